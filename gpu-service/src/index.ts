/**
 * @intentql/gpu-service's public entry, for the other packages: a model bundle loaded into
 * onnxruntime-node sessions, as the CLI's offline `predict` scores it. The server itself starts from
 * main.ts (flags and env vars: config.ts); the served-accuracy check is the "./served-accuracy" entry.
 */
export { checkSessionSignature, type LoadedBundle, loadBundle } from "./bundle/load-bundle.ts";
