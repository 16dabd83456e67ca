/**
 * @intentql/gpu-service's public entry, for the other packages: a model bundle loaded into
 * onnxruntime-node sessions, as the CLI's offline `predict` scores it. The server itself starts from
 * main.ts (flags and env vars: config.ts); the served-accuracy check is the "./served-accuracy" entry.
 */
export {
  checkSessionSignature,
  type LoadedBundle,
  loadBundle,
  MAX_DATA_FILE_BYTES,
  MAX_MODEL_FILE_BYTES,
} from "./bundle/load-bundle.ts";
