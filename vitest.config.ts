import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // graphql ships CJS (main) and ESM (module) copies; Node loads the CJS one for Pothos and yoga, so
  // Vite must resolve our own `import "graphql"` to it too, or instanceof checks see two graphqls.
  resolve: { alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }] },
  // edge/wrangler.toml's Text rule (vocab.txt, the built dashboard): the module is the file's text,
  // so tests can import the edge's composition root (edge/src/config.ts) as the Worker does.
  plugins: [
    {
      name: "wrangler-text-modules",
      enforce: "pre",
      load: (id: string) =>
        /\.(txt|html)$/.test(id) ? `export default ${JSON.stringify(readFileSync(id, "utf8"))};` : undefined,
    },
  ],
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
