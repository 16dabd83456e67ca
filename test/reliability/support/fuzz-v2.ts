/**
 * fast-check arbitraries for gpu-service's Open Inference Protocol endpoint: random JSON and
 * binary bodies, near-valid infer requests (wrong shapes, datatypes, ids, masks, sizes, header
 * lengths), wrong headers, methods and paths.
 */

import { encodeBinaryMessage, HEADER_LENGTH } from "@intentql/schema";
import fc from "fast-check";

export interface V2Request {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | null;
}

const MODEL = "massive-scratch";
const INFER = `/v2/models/${MODEL}/infer`;
const jsonish = fc.jsonValue({ maxDepth: 4 });
const dim = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 8 }) },
  fc.constantFrom(0, -1, 129, 2 ** 31, 2 ** 53, 1.5, Number.NaN),
);
const DATATYPES = ["INT64", "INT32", "FP32", "FP16", "BOOL", "BYTES", "UINT8", "int64", "NOPE"];
const NAMES = ["input_ids", "attention_mask", "logits", "", "x"];

const tensorJson = fc.record(
  {
    name: fc.constantFrom(...NAMES),
    datatype: fc.constantFrom(...DATATYPES),
    shape: fc.oneof(
      { weight: 5, arbitrary: fc.array(dim, { minLength: 2, maxLength: 2 }) },
      fc.array(dim, { maxLength: 4 }),
      jsonish,
    ),
    data: fc.oneof(
      fc.array(fc.integer({ min: -2, max: 31_000 }), { maxLength: 80 }),
      fc.array(fc.oneof(fc.integer({ min: 0, max: 1 }), jsonish), { maxLength: 40 }),
      jsonish,
    ),
    parameters: fc.option(
      fc.record({ binary_data_size: fc.oneof(fc.nat(), jsonish) }, { requiredKeys: [] }),
      {
        nil: undefined,
      },
    ),
  },
  { requiredKeys: ["name", "datatype", "shape"] },
);

/** A valid request of `rows` × `seq` (ids in vocab, mask 1), sometimes with one thing broken. */
const nearValid = fc
  .record({
    rows: fc.integer({ min: 1, max: 6 }),
    seq: fc.integer({ min: 1, max: 24 }),
    id: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    breakIt: fc.constantFrom("none", "mask0", "id-range", "mask2", "drop-mask", "extra-output", "short-data"),
    seed: fc.integer({ min: 0, max: 1_000 }),
  })
  .map(({ rows, seq, id, breakIt, seed }) => {
    const n = rows * seq;
    const ids = Array.from({ length: n }, (_, i) => 100 + ((seed + i * 7) % 20_000));
    const mask: number[] = Array.from({ length: n }, () => 1);
    if (breakIt === "mask0") for (let c = 0; c < seq; c++) mask[c] = 0;
    if (breakIt === "id-range") ids[0] = 10_000_000;
    if (breakIt === "mask2") mask[0] = 2;
    const inputs = [
      {
        name: "input_ids",
        datatype: "INT64",
        shape: [rows, seq],
        data: breakIt === "short-data" ? ids.slice(1) : ids,
      },
      { name: "attention_mask", datatype: "INT64", shape: [rows, seq], data: mask },
    ];
    if (breakIt === "drop-mask") inputs.pop();
    const outputs = breakIt === "extra-output" ? [{ name: "logits" }, { name: "nope" }] : undefined;
    return { breakIt, body: { id, inputs, outputs } };
  });

const jsonBodies = fc.oneof(
  { weight: 3, arbitrary: nearValid.map((v) => JSON.stringify(v.body)) },
  {
    weight: 2,
    arbitrary: fc
      .record(
        {
          id: jsonish,
          inputs: fc.array(tensorJson, { maxLength: 3 }),
          outputs: jsonish,
          parameters: jsonish,
        },
        { requiredKeys: ["inputs"] },
      )
      .map((b) => JSON.stringify(b)),
  },
  jsonish.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc
    .integer({ min: 1, max: 200_000 })
    .map(
      (n) =>
        `{"inputs":[{"name":"input_ids","datatype":"INT64","shape":[1,1],"data":${"[".repeat(n)}1${"]".repeat(n)}}]}`,
    ),
  fc.integer({ min: 1, max: 200_000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
);

/** Binary extension: a JSON header then raw tensor bytes, with a random or slightly wrong header length. */
const binaryBodies = fc
  .record({
    rows: fc.integer({ min: 1, max: 4 }),
    seq: fc.integer({ min: 1, max: 16 }),
    tail: fc.uint8Array({ maxLength: 64 }),
    lengthDelta: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: -40, max: 40 })),
    truncate: fc.nat({ max: 300 }),
    datatype: fc.constantFrom("INT64", "INT64", "INT64", "INT32", "FP32"),
    lengthHeader: fc.oneof(
      { weight: 4, arbitrary: fc.constant(null) },
      fc.constantFrom("abc", "-1", "", "1e9", "99999999999999999999", "0", "NaN"),
    ),
  })
  .map(({ rows, seq, tail, lengthDelta, truncate, datatype, lengthHeader }): V2Request => {
    const n = rows * seq;
    const ids = new BigInt64Array(n).map((_, i) => BigInt(101 + i));
    const mask = new BigInt64Array(n).fill(1n);
    const shape = [rows, seq];
    const { body, headerLength } = encodeBinaryMessage({}, "inputs", [
      { name: "input_ids", datatype: datatype as "INT64", shape, bytes: new Uint8Array(ids.buffer) },
      { name: "attention_mask", datatype: "INT64", shape, bytes: new Uint8Array(mask.buffer) },
    ]);
    const whole = new Uint8Array(body.byteLength + tail.byteLength);
    whole.set(body);
    whole.set(tail, body.byteLength);
    const cut =
      truncate > 0 && truncate < whole.byteLength ? whole.subarray(0, whole.byteLength - truncate) : whole;
    return {
      kind: "binary",
      method: "POST",
      path: INFER,
      headers: {
        "content-type": "application/octet-stream",
        [HEADER_LENGTH]: lengthHeader ?? String(headerLength + lengthDelta),
      },
      body: cut,
    };
  });

const randomBinary = fc
  .record({
    bytes: fc.uint8Array({ maxLength: 2_000 }),
    length: fc.option(fc.nat({ max: 3_000 }), { nil: null }),
  })
  .map(
    ({ bytes, length }): V2Request => ({
      kind: "random-binary",
      method: "POST",
      path: INFER,
      headers: {
        "content-type": "application/octet-stream",
        ...(length === null ? {} : { [HEADER_LENGTH]: String(length) }),
      },
      body: bytes,
    }),
  );

const PATHS = [
  INFER,
  `/v2/models/${MODEL}/versions/1.0.0/infer`,
  `/v2/models/${MODEL}/versions/9/infer`,
  "/v2/models/nope/infer",
  `/v2/models/${MODEL}`,
  `/v2/models/${MODEL}/ready`,
  `/v2/models/${MODEL}/labels`,
  `/v2/models/${MODEL}/bundle`,
  "/v2/models",
  "/v2",
  "/v2/health/ready",
  "/metrics",
  "/",
  "/v2/models/%E0%A4%A/infer",
  "/v2/models/../../etc/passwd",
];

const wrongHeaders = fc
  .record({
    method: fc.constantFrom("POST", "POST", "GET", "PUT", "DELETE", "PATCH"),
    path: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...PATHS) },
      fc.webPath().map((p) => p || "/"),
    ),
    contentType: fc.constantFrom(
      "application/json",
      "text/plain",
      "application/octet-stream",
      "multipart/form-data",
      "",
    ),
    body: jsonBodies,
    lengthHeader: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
  })
  .map(
    ({ method, path, contentType, body, lengthHeader }): V2Request => ({
      kind: "headers",
      method,
      path,
      headers: {
        ...(contentType ? { "content-type": contentType } : {}),
        ...(lengthHeader === undefined ? {} : { [HEADER_LENGTH]: lengthHeader.replace(/[^\x20-\x7e]/g, "") }),
      },
      body: method === "GET" ? null : body,
    }),
  );

export const v2Request: fc.Arbitrary<V2Request> = fc.oneof(
  {
    weight: 4,
    arbitrary: jsonBodies.map(
      (body): V2Request => ({
        kind: "json",
        method: "POST",
        path: INFER,
        headers: { "content-type": "application/json" },
        body,
      }),
    ),
  },
  { weight: 3, arbitrary: binaryBodies },
  { weight: 1, arbitrary: randomBinary },
  { weight: 2, arbitrary: wrongHeaders },
);

/** 2xx answers are JSON (or binary infer results); every other answer is `{"error": "..."}` JSON and < 500. */
export function judgeV2Answer(
  status: number,
  contentType: string,
  bytes: Uint8Array,
): { ok: boolean; outcome: string; problem?: string } {
  const text = new TextDecoder().decode(bytes);
  if (status >= 500)
    return { ok: false, outcome: `HTTP_${status}`, problem: `status ${status}: ${text.slice(0, 300)}` };
  if (status < 300) {
    if (contentType.startsWith("application/octet-stream") || contentType.startsWith("text/plain"))
      return { ok: true, outcome: `HTTP_${status}` };
    try {
      JSON.parse(text);
      return { ok: true, outcome: `HTTP_${status}` };
    } catch {
      return { ok: false, outcome: "NOT_JSON", problem: `status ${status} not JSON: ${text.slice(0, 200)}` };
    }
  }
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body.error === "string" && body.error.length > 0) {
      if (/\.ts:\d+|node_modules|\/work\/|\bat .*:\d+:\d+/.test(body.error))
        return { ok: false, outcome: "LEAK", problem: `error reveals internals: ${body.error}` };
      return { ok: true, outcome: `HTTP_${status}` };
    }
    return { ok: false, outcome: "NO_ERROR_FIELD", problem: `status ${status}: ${text.slice(0, 200)}` };
  } catch {
    return { ok: false, outcome: "NOT_JSON", problem: `status ${status} not JSON: ${text.slice(0, 200)}` };
  }
}
