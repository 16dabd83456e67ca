// Bundles gpu-service and its GPU-host tools into single files (dist/*.mjs) that run with only
// `node` and onnxruntime-node (found through NODE_PATH), as on the GPU host: `npm run build:gpu-service`.
import { build } from "esbuild";

const entries = {
  "gpu-service": "gpu-service/src/main.ts",
  // Loaded by the service as a worker thread, from the file next to gpu-service.mjs (session-pool.ts).
  "gpu-service-session-thread": "gpu-service/src/backends/session-thread.ts",
  // Loaded as an HTTP thread (--http-threads), from the file next to gpu-service.mjs (http-threads.ts).
  "gpu-service-http-thread": "gpu-service/src/router/http-thread.ts",
  "gpu-load": "bench/gpu-service-load.ts",
  "gpu-accuracy": "bench/gpu-service-accuracy.ts",
  "variant-parity": "bench/variant-parity.ts",
  "smoke-test": "gpu-service/tools/smoke-test.ts",
  "ort-ceiling": "bench/ort-ceiling.ts",
};
for (const [name, entry] of Object.entries(entries)) {
  await build({
    entryPoints: [entry],
    outfile: `dist/${name}.mjs`,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    external: ["onnxruntime-node"],
    // prom-client is CommonJS and requires node built-ins: give the ESM bundle a real require.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    logLevel: "warning",
  });
  console.log(`dist/${name}.mjs`);
}
