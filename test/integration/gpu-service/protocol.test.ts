import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { encodeBinaryMessage, HEADER_LENGTH, typedBytes } from "@intentql/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";
import {
  argmaxRows,
  BUNDLE_DIR,
  binaryInfer,
  jsonInfer,
  labels,
  MODEL,
  postBinary,
  tokenizer,
} from "./client.ts";

const TOKEN = "test-secret-token-of-32-characters";
const { version: VERSION } = JSON.parse(readFileSync(join(BUNDLE_DIR, "bundle.json"), "utf8")) as {
  version: string;
};
const VOCAB_SIZE = readFileSync(join(BUNDLE_DIR, "vocab.txt"), "utf8").trimEnd().split("\n").length;
/** The token a rotation moves to: accepted next to TOKEN until the rotation ends. */
const NEXT_TOKEN = "next-secret-token-of-32-characters";
let service: GpuServiceHandle;
const auth = { authorization: `Bearer ${TOKEN}` };

async function get(path: string, headers: Record<string, string> = auth) {
  const res = await fetch(`${service.url}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, res };
}

async function postJson(body: string, path = `/v2/models/${MODEL}/infer`) {
  const res = await fetch(`${service.url}${path}`, { method: "POST", body, headers: auth });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

// Every route and check runs twice: with HTTP parsed on the main thread, and on two HTTP threads
// (--http-threads) that forward rows to the main thread's batcher.
const MODES = [
  { mode: "HTTP on the main thread", args: [] as string[] },
  { mode: "2 HTTP threads", args: ["--http-threads", "2"] },
];

describe.each(MODES)("$mode", ({ args }) => {
  beforeAll(async () => {
    service = await startGpuService({
      authToken: TOKEN,
      args: [
        "--variant",
        "fp32",
        "--max-batch-size",
        "32",
        "--body-limit-bytes",
        "65536",
        "--max-request-rows",
        "40",
        ...args,
      ],
      env: { INTENTQL_UPSTREAM_TOKEN_NEXT: NEXT_TOKEN },
    });
  });
  afterAll(async () => {
    expect(await service?.stop()).toBe(0);
  });

  describe("gpu-service V2 protocol", () => {
    it("serves server metadata, health and the model list", async () => {
      const meta = await get("/v2", {});
      expect(meta.status).toBe(200);
      expect(meta.body.extensions).toContain("binary_tensor_data");
      expect((await get("/v2/health/live", {})).status).toBe(200);
      expect((await get("/v2/health/ready", {})).status).toBe(200);
      const list = await get("/v2/models");
      expect(list.body.models).toEqual([{ name: MODEL, version: VERSION, state: "READY" }]);
    });

    it("serves model metadata with and without version, and readiness", async () => {
      for (const path of [`/v2/models/${MODEL}`, `/v2/models/${MODEL}/versions/${VERSION}`]) {
        const { status, body } = await get(path);
        expect(status).toBe(200);
        expect(body).toMatchObject({
          name: MODEL,
          versions: [VERSION],
          platform: "onnxruntime_onnx",
          parameters: { provider: "cpu", variant: "fp32" },
        });
        expect((body.inputs as { name: string }[]).map((i) => i.name)).toEqual([
          "input_ids",
          "attention_mask",
        ]);
        expect(body.outputs).toEqual([{ name: "logits", datatype: "FP32", shape: [-1, 60] }]);
      }
      expect((await get(`/v2/models/${MODEL}/ready`)).body).toEqual({ name: MODEL, ready: true });
      expect((await get(`/v2/models/${MODEL}/versions/${VERSION}/ready`)).status).toBe(200);
    });

    it("serves labels.json and bundle.json for the edge's checks", async () => {
      const labelsRes = await fetch(`${service.url}/v2/models/${MODEL}/labels`, { headers: auth });
      expect(((await labelsRes.json()) as unknown[]).length).toBe(60);
      const bundle = await get(`/v2/models/${MODEL}/bundle`);
      expect((bundle.body.tokenizer as { vocabSha256: string }).vocabSha256).toMatch(/^[0-9a-f]{64}$/);
    });

    it("answers JSON inference with id echo, model name and version", async () => {
      const enc = tokenizer.encode("please cancel my alarm").ids;
      const { status, body } = await postJson(jsonInfer([enc], undefined, { id: "req-42" }));
      expect(status).toBe(200);
      expect(body).toMatchObject({ model_name: MODEL, model_version: VERSION, id: "req-42" });
      const out = (body.outputs as { name: string; datatype: string; shape: number[]; data: number[] }[])[0]!;
      expect(out).toMatchObject({ name: "logits", datatype: "FP32", shape: [1, 60] });
      expect(labels[argmaxRows(out.data, 60)[0]!]!.name).toBe("alarm_remove");
    });

    it("accepts nested JSON data and honours outputs selection with binary_data", async () => {
      const enc = tokenizer.encode("wake me up at nine am on friday").ids;
      const body = JSON.stringify({
        inputs: [
          { name: "input_ids", datatype: "INT64", shape: [1, enc.length], data: [enc] },
          { name: "attention_mask", datatype: "INT64", shape: [1, enc.length], data: [enc.map(() => 1)] },
        ],
        outputs: [{ name: "logits", parameters: { binary_data: true } }],
      });
      const res = await fetch(`${service.url}/v2/models/${MODEL}/infer`, {
        method: "POST",
        body,
        headers: auth,
      });
      expect(res.status).toBe(200);
      const headerLength = Number(res.headers.get(HEADER_LENGTH));
      const bytes = new Uint8Array(await res.arrayBuffer());
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, headerLength)));
      expect(header.outputs[0]).toMatchObject({ name: "logits", parameters: { binary_data_size: 240 } });
      expect(bytes.byteLength - headerLength).toBe(240);
      const logits = new Float32Array(bytes.slice(headerLength).buffer);
      expect(labels[argmaxRows(logits, 60)[0]!]!.name).toBe("alarm_set");
    });

    it("answers binary requests; real MASSIVE texts get their intents", async () => {
      const cases: [string, string][] = [
        ["please cancel my alarm", "alarm_remove"],
        ["wake me up at nine am on friday", "alarm_set"],
        ["what's the weather like tomorrow", "weather_query"],
        ["play some jazz music", "play_music"],
      ];
      const { status, header, logits } = await postBinary(
        service.url,
        cases.map((c) => c[0]),
        { token: TOKEN, header: { id: "b1", parameters: { binary_data_output: true } } },
      );
      expect(status).toBe(200);
      expect(header.id).toBe("b1");
      expect(header.outputs[0]!.shape).toEqual([4, 60]);
      expect(argmaxRows(logits!, 60).map((i) => labels[i]!.name)).toEqual(cases.map((c) => c[1]));
    });

    it("a text gets the same logits alone as inside a batch of others", async () => {
      const target = "set an alarm for seven thirty tomorrow morning";
      const alone = await postBinary(service.url, [target], {
        token: TOKEN,
        header: { parameters: { binary_data_output: true } },
      });
      const others = [
        "hi",
        "tell me a joke about cats and dogs and the weather in paris this weekend please",
        "lights off",
      ];
      const batched = await Promise.all(
        [0, 1, 2].map((k) =>
          postBinary(service.url, [...others.slice(0, k), target, ...others.slice(k)], {
            token: TOKEN,
            header: { parameters: { binary_data_output: true } },
          }),
        ),
      );
      batched.forEach((res, k) => {
        const row = res.logits!.subarray(k * 60, k * 60 + 60);
        for (let j = 0; j < 60; j++) expect(Math.abs(row[j]! - alone.logits![j]!)).toBeLessThan(1e-5);
      });
    });
  });

  describe("gpu-service bad input", () => {
    const ids = [[2, 100, 3]];
    const cases: [string, string, RegExp][] = [
      ["wrong datatype", jsonInfer(ids).replace('"INT64"', '"INT32"'), /datatype.*INT32.*expected INT64/],
      [
        "wrong rank",
        JSON.stringify({
          inputs: [
            { name: "input_ids", datatype: "INT64", shape: [3], data: [2, 100, 3] },
            { name: "attention_mask", datatype: "INT64", shape: [3], data: [1, 1, 1] },
          ],
        }),
        /rank 1, expected 2/,
      ],
      [
        "shape mismatch",
        jsonInfer(ids, [[1, 1]]).replace('"shape":[1,3],"data":[1,1]', '"shape":[1,2],"data":[1,1]'),
        /shape.*differ/,
      ],
      [
        "data count",
        jsonInfer(ids).replace('"data":[2,100,3]', '"data":[2,100]'),
        /2 elements but shape \[1,3\] needs 3/,
      ],
      [
        "id outside vocab",
        jsonInfer([[2, VOCAB_SIZE, 3]]),
        new RegExp(`input_ids\\[0\\]\\[1\\] = ${VOCAB_SIZE} is outside the vocabulary`),
      ],
      ["negative id", jsonInfer([[2, -1, 3]]), /= -1 is outside the vocabulary/],
      ["non-integer id", jsonInfer([[2, 1.5, 3]]), /data\[1\] is 1.5, not an INT64 integer/],
      // Validation reads 32-bit words: a set high word or a low word past int32 is still caught.
      ["id with a high word", jsonInfer([[2, 2 ** 32 + 5, 3]]), /= 4294967301 is outside the vocabulary/],
      ["id of 2^31", jsonInfer([[2, 2 ** 31, 3]]), /= 2147483648 is outside the vocabulary/],
      ["huge negative id", jsonInfer([[2, -(2 ** 40), 3]]), /= -1099511627776 is outside the vocabulary/],
      [
        "mask of 2^32",
        jsonInfer(ids, [[1, 2 ** 32, 1]]),
        /attention_mask\[0\]\[1\] = 4294967296; must be 0 or 1/,
      ],
      [
        "more rows than --max-request-rows",
        jsonInfer(Array.from({ length: 41 }, () => [2, 3])),
        /41 rows in one request is over the limit of 40 \(--max-request-rows\)/,
      ],
      ["mask not 0/1", jsonInfer(ids, [[1, 2, 1]]), /attention_mask\[0\]\[1\] = 2; must be 0 or 1/],
      ["all-zero mask row", jsonInfer(ids, [[0, 0, 0]]), /row 0 is all zeros/],
      [
        "empty batch",
        JSON.stringify({
          inputs: [
            { name: "input_ids", datatype: "INT64", shape: [0, 3], data: [] },
            { name: "attention_mask", datatype: "INT64", shape: [0, 3], data: [] },
          ],
        }),
        /batch size is 0/,
      ],
      ["too long", jsonInfer([Array(129).fill(5)]), /sequence length 129 exceeds the model's maxLength 128/],
      ["bad JSON", '{"inputs": [', /not valid JSON/],
      ["not an object", "[1,2]", /must be a JSON object/],
      [
        "missing input",
        JSON.stringify({ inputs: [{ name: "input_ids", datatype: "INT64", shape: [1, 1], data: [2] }] }),
        /missing input attention_mask/,
      ],
      [
        "unknown input",
        jsonInfer(ids).replace('"attention_mask"', '"token_type_ids"'),
        /unknown input "token_type_ids"/,
      ],
      [
        "an output requested twice",
        jsonInfer(ids, undefined, { outputs: [{ name: "logits" }, { name: "logits" }] }),
        /output "logits" is requested more than once/,
      ],
      [
        "data nested deeper than the shape",
        JSON.stringify({
          inputs: [
            { name: "input_ids", datatype: "INT64", shape: [1, 3], data: [[[2, 100, 3]]] },
            { name: "attention_mask", datatype: "INT64", shape: [1, 3], data: [1, 1, 1] },
          ],
        }),
        /input_ids: data is nested deeper than its shape \[1,3\]/,
      ],
      [
        "data nested 30,000 deep (under the test body limit)",
        `{"inputs":[{"name":"input_ids","datatype":"INT64","shape":[1,1],"data":${"[".repeat(30_000)}2${"]".repeat(30_000)}},{"name":"attention_mask","datatype":"INT64","shape":[1,1],"data":[1]}]}`,
        /data is nested deeper than its shape \[1,1\]/,
      ],
      [
        "unknown output",
        jsonInfer(ids, undefined, { outputs: [{ name: "probs" }] }),
        /unknown output "probs"/,
      ],
      [
        "no data",
        JSON.stringify({
          inputs: [
            { name: "input_ids", datatype: "INT64", shape: [1, 1] },
            { name: "attention_mask", datatype: "INT64", shape: [1, 1], data: [1] },
          ],
        }),
        /neither "data" nor/,
      ],
    ];
    for (const [what, body, message] of cases) {
      it(`${what} → 400 naming the problem`, async () => {
        const res = await postJson(body);
        expect(res.status).toBe(400);
        expect(res.body.error).toMatch(message);
      });
    }

    it("a binary id with its high word set → 400 (typed-view validation)", async () => {
      const ids = BigInt64Array.from([2n, (1n << 33n) + 2n, 3n]);
      const mask = BigInt64Array.from([1n, 1n, 1n]);
      const { body, headerLength } = encodeBinaryMessage({}, "inputs", [
        { name: "input_ids", datatype: "INT64", shape: [1, 3], bytes: typedBytes(ids) },
        { name: "attention_mask", datatype: "INT64", shape: [1, 3], bytes: typedBytes(mask) },
      ]);
      const res = await fetch(`${service.url}/v2/models/${MODEL}/infer`, {
        method: "POST",
        body: body.slice(),
        headers: { ...auth, [HEADER_LENGTH]: String(headerLength) },
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(
        /= 8589934594 is outside the vocabulary/,
      );
    });

    it("truncated and oversized binary bodies → 400", async () => {
      const { body, headerLength } = binaryInfer(["hello there"]);
      const send = (b: Uint8Array, length: string) =>
        fetch(`${service.url}/v2/models/${MODEL}/infer`, {
          method: "POST",
          body: b.slice(),
          headers: { ...auth, [HEADER_LENGTH]: length },
        }).then(async (r) => ({ status: r.status, error: ((await r.json()) as { error: string }).error }));
      const truncated = await send(body.subarray(0, body.byteLength - 5), String(headerLength));
      expect(truncated).toMatchObject({
        status: 400,
        error: expect.stringMatching(/declares \d+ binary bytes but only/),
      });
      const extra = await send(new Uint8Array([...body, 1, 2, 3]), String(headerLength));
      expect(extra).toMatchObject({
        status: 400,
        error: expect.stringMatching(/3 bytes follow the last binary tensor/),
      });
      const badLength = await send(body, "abc");
      expect(badLength).toMatchObject({ status: 400, error: expect.stringMatching(/not an integer/) });
      const tooLong = await send(body, String(body.byteLength + 10));
      expect(tooLong).toMatchObject({
        status: 400,
        error: expect.stringMatching(/Inference-Header-Content-Length/),
      });
    });

    it("binary size that disagrees with the shape → 400", async () => {
      const { body, headerLength } = binaryInfer(["hello there"]);
      const header = JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength)));
      header.inputs[0].shape = [1, 2];
      header.inputs[1].shape = [1, 2];
      const headerBytes = new TextEncoder().encode(JSON.stringify(header));
      const res = await fetch(`${service.url}/v2/models/${MODEL}/infer`, {
        method: "POST",
        body: new Uint8Array([...headerBytes, ...body.subarray(headerLength)]),
        headers: { ...auth, [HEADER_LENGTH]: String(headerBytes.byteLength) },
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(
        /binary_data_size is \d+ bytes but shape \[1,2\]/,
      );
    });

    it("unknown model, version and route → 404", async () => {
      expect((await get("/v2/models/nope")).body.error).toMatch(/unknown model "nope"/);
      const v = await get(`/v2/models/${MODEL}/versions/9`);
      expect(v.status).toBe(404);
      expect(v.body.error).toMatch(/no version "9"/);
      expect((await postJson(jsonInfer([[2, 3]]), "/v2/models/nope/infer")).status).toBe(404);
      expect((await get("/v3/whatever")).status).toBe(404);
    });

    it("wrong method → 405", async () => {
      expect((await get(`/v2/models/${MODEL}/infer`)).status).toBe(405);
    });

    it("body over the limit → 413, and the service keeps serving", async () => {
      const res = await fetch(`${service.url}/v2/models/${MODEL}/infer`, {
        method: "POST",
        body: "x".repeat(70_000),
        headers: auth,
      });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: string }).error).toMatch(/exceeds the limit of 65536 bytes/);
      expect((await get("/v2/health/live", {})).status).toBe(200);
    });

    it("auth: missing or wrong token → 401 JSON; health and /v2 stay open", async () => {
      for (const headers of <Record<string, string>[]>[
        {},
        { authorization: "Bearer wrong" },
        { authorization: TOKEN },
        { authorization: `Bearer ${TOKEN}x` },
        { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
        { authorization: `Basic ${TOKEN}` },
      ]) {
        const r = await get(`/v2/models/${MODEL}`, headers);
        expect(r.status).toBe(401);
        expect(r.body.error).toMatch(/bearer token/);
      }
      expect(
        (
          await fetch(`${service.url}/v2/models/${MODEL}/infer`, {
            method: "POST",
            body: jsonInfer([[2, 3]]),
          })
        ).status,
      ).toBe(401);
      expect((await get("/v2/health/ready", {})).status).toBe(200);
      expect((await fetch(`${service.url}/metrics`)).status).toBe(200);
    });

    it("a refusal before the body is read closes the connection instead of draining a slow body", async () => {
      const { hostname, port } = new URL(service.url);
      const socket = connect(Number(port), hostname);
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      let answer = "";
      socket.on("data", (d) => {
        answer += d;
      });
      const closed = new Promise<number>((resolve) => {
        const start = Date.now();
        socket.once("close", () => resolve(Date.now() - start));
      });
      // 8 MB announced without a token, then a trickle that would take a day
      socket.write(
        `POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 8000000\r\n\r\n`,
      );
      const trickle = setInterval(() => socket.write("x".repeat(100)), 100);
      try {
        const took = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5_000))]);
        expect(answer).toMatch(/^HTTP\/1\.1 401/);
        expect(answer.toLowerCase()).toContain("connection: close");
        expect(took).toBeGreaterThanOrEqual(0); // closed by the server within 5 s
      } finally {
        clearInterval(trickle);
        socket.destroy();
      }
    });

    it("auth during a rotation: the current and the next token both work, nothing else does", async () => {
      for (const token of [TOKEN, NEXT_TOKEN])
        expect((await get(`/v2/models/${MODEL}`, { authorization: `Bearer ${token}` })).status).toBe(200);
      const both = `Bearer ${TOKEN}${NEXT_TOKEN}`;
      expect((await get(`/v2/models/${MODEL}`, { authorization: both })).status).toBe(401);
    });

    it("after all that the process is alive and metrics counted infer requests and runs", async () => {
      expect(service.process.exitCode).toBeNull();
      const text = await (await fetch(`${service.url}/metrics`)).text();
      const value = (name: string) =>
        Number(new RegExp(`^${name}\\{model="${MODEL}"\\} (\\d+)`, "m").exec(text)?.[1]);
      expect(value("intentql_infer_requests_total")).toBeGreaterThan(20);
      expect(value("intentql_model_runs_total")).toBeGreaterThan(0);
      expect(text).toMatch(/intentql_errors_total\{kind="bad_request"\} \d+/);
      expect(text).toMatch(/intentql_batch_rows_bucket/);
    });
  });
});
