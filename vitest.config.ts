import { defineConfig } from "vitest/config";

export default defineConfig({
  // graphql ships CJS (main) and ESM (module) copies; Node loads the CJS one for Pothos and yoga, so
  // Vite must resolve our own `import "graphql"` to it too, or instanceof checks see two graphqls.
  resolve: { alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }] },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
