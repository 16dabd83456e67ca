import { defineConfig } from "vitest/config";

// The long reliability suite: `npm run test:reliability`. Kept apart from the root config, whose
// `test/**/*.test.ts` picks up only short.test.ts from this folder.
export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }] },
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/reliability/**/*.spec.ts"],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    pool: "forks",
    fileParallelism: false,
  },
});
