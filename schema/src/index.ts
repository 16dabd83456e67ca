/**
 * @intentql/schema: the contracts the parts share, and nothing that runs a server.
 * - v2.ts: the Open Inference Protocol (KServe V2) messages and their binary tensor codec;
 * - bundle.ts: a model bundle's manifest and labels; calibration.ts: how its logits are read;
 * - dataset.ts: the labelled-dataset JSONL format;
 * - digest.ts: the sha256 that bundles and datasets are identified by;
 * - capped-body.ts: a response body read up to a byte cap (what a server chose to answer).
 * The GraphQL schema is the edge's (edge/src/graphql).
 */
export * from "./bundle.ts";
export * from "./calibration.ts";
export * from "./capped-body.ts";
export * from "./dataset.ts";
export * from "./digest.ts";
export * from "./v2.ts";
