/**
 * Contract: the edge's upstream client (edge/src/upstream/v2-client.ts) against NVIDIA Triton.
 * Recorded Triton V2 exchanges (fixtures/, written by record-fixtures.ts from Triton's documented
 * protocol) are replayed through an injected fetch: each request the client sends must be one Triton
 * accepts (same path, same JSON header, same tensor bytes), and each recorded Triton answer must
 * decode to the right logits or the right GraphQL error code.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Label } from "@intentql/schema";
import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";
import type { GraphQLError } from "graphql";
import { describe, expect, it } from "vitest";
import { EdgeModel } from "../../../edge/src/classifier/edge-model.ts";
import { V2Client } from "../../../edge/src/upstream/v2-client.ts";
import { ModelVerifier } from "../../../edge/src/upstream/verify-model.ts";

const ROOT = join(import.meta.dirname, "../../..");
const FIXTURES = join(import.meta.dirname, "fixtures");
const BUNDLE = join(ROOT, "models/massive-scratch");
const bundle = JSON.parse(readFileSync(join(BUNDLE, "bundle.json"), "utf8"));
const labels: Label[] = JSON.parse(readFileSync(join(BUNDLE, "labels.json"), "utf8"));

interface Fixture {
  texts?: string[];
  request: {
    method: string;
    path: string;
    headers?: Record<string, string>;
    jsonHeader?: unknown;
    binaryBase64?: string;
    body?: unknown;
  };
  response: {
    status: number;
    headers: Record<string, string>;
    body?: unknown;
    bodyText?: string;
    headerText?: string;
    binaryBase64?: string;
  };
}

const load = (name: string): Fixture => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8"));

function tritonResponse(f: Fixture["response"]): Response {
  const headers = new Headers(f.headers);
  if (f.headerText !== undefined) {
    const head = Buffer.from(f.headerText, "utf8");
    const tail = Buffer.from(f.binaryBase64 ?? "", "base64");
    headers.set("inference-header-content-length", String(head.length));
    return new Response(Buffer.concat([head, tail]), { status: f.status, headers });
  }
  const text = f.bodyText ?? JSON.stringify(f.body);
  return new Response(f.status === 204 ? null : text, { status: f.status, headers });
}

interface Sent {
  url: URL;
  method: string;
  headers: Headers;
  body: Uint8Array;
}

/** A fetch that records what the client sent and answers with the fixture's response. */
function replay(fixture: Fixture): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const fake = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const body = init?.body ? new Uint8Array(await new Response(init.body).arrayBuffer()) : new Uint8Array();
    sent.push({
      url: new URL(String(input)),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body,
    });
    return tritonResponse(fixture.response);
  };
  return { fetch: fake as typeof fetch, sent };
}

function client(fixture: Fixture, token = "") {
  const r = replay(fixture);
  return {
    ...r,
    client: new V2Client({ url: "https://triton.test:8000/", token, timeoutMs: 5000, fetch: r.fetch }),
  };
}

function tokenBatch(texts: string[]) {
  const tok = new BertWordPieceTokenizer(parseVocabTxt(readFileSync(join(BUNDLE, "vocab.txt"), "utf8")));
  const b = tok.encodeBatch(texts, bundle.maxLength);
  return {
    batchSize: texts.length,
    seqLength: b.inputIds.length / texts.length,
    inputIds: b.inputIds,
    attentionMask: b.attentionMask,
  };
}

const argmaxLabels = (data: Float32Array, width: number) =>
  Array.from({ length: data.length / width }, (_, r) => {
    const row = data.subarray(r * width, (r + 1) * width);
    return labels[row.indexOf(Math.max(...row))]!.name;
  });

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return (error as GraphQLError).extensions?.code;
  }
  throw new Error("expected the call to fail");
}

describe("Triton fixtures", () => {
  it("are all valid JSON with a request and a response", () => {
    const names = readdirSync(FIXTURES).filter((f) => f.endsWith(".json"));
    expect(names.length).toBeGreaterThanOrEqual(9);
    for (const n of names) {
      const f = load(n.replace(/\.json$/, ""));
      expect(f.request.path, n).toMatch(/^\/v2/);
      expect(f.response.status, n).toBeGreaterThanOrEqual(200);
    }
  });

  it("describe the bundle's model signature (metadata matches bundle.json)", () => {
    const meta = load("model-metadata").response.body as any;
    expect(meta.name).toBe(bundle.name);
    expect(meta.inputs).toEqual(bundle.inputs);
    expect(meta.outputs).toEqual(bundle.outputs);
    expect(meta.outputs[0].shape[1]).toBe(labels.length);
  });

  it("binary request bytes are what the edge tokenizer produces for the recorded texts", () => {
    const f = load("infer-binary");
    const b = tokenBatch(f.texts!);
    const expected = Buffer.concat([
      Buffer.from(b.inputIds.buffer, b.inputIds.byteOffset, b.inputIds.byteLength),
      Buffer.from(b.attentionMask.buffer, b.attentionMask.byteOffset, b.attentionMask.byteLength),
    ]);
    expect(Buffer.from(f.request.binaryBase64!, "base64").equals(expected)).toBe(true);
  });
});

describe("edge V2Client against recorded Triton responses", () => {
  it("reads model metadata (GET /v2/models/{name})", async () => {
    const f = load("model-metadata");
    const { client: c, sent } = client(f);
    const meta = await c.modelMetadata("massive-scratch");
    expect(sent[0]!.url.pathname).toBe(f.request.path);
    expect(sent[0]!.method).toBe("GET");
    expect(meta.platform).toBe("onnxruntime_onnx");
    expect(meta.outputs[0]).toEqual({ name: "logits", datatype: "FP32", shape: [-1, 60] });
  });

  it("sends a binary infer request Triton accepts and decodes Triton's binary logits", async () => {
    const f = load("infer-binary");
    const { client: c, sent } = client(f, "s3cr3t-bearer");
    const logits = await c.infer("massive-scratch", tokenBatch(f.texts!));

    // The request: path, headers, JSON header (key order free) and tensor bytes exactly as recorded.
    expect(sent).toHaveLength(1);
    const req = sent[0]!;
    expect(req.method).toBe("POST");
    expect(req.url.pathname).toBe(f.request.path);
    expect(req.headers.get("content-type")).toBe("application/octet-stream");
    expect(req.headers.get("authorization")).toBe("Bearer s3cr3t-bearer");
    const headerLength = Number(req.headers.get("inference-header-content-length"));
    expect(Number.isInteger(headerLength) && headerLength > 0).toBe(true);
    const header = JSON.parse(Buffer.from(req.body.subarray(0, headerLength)).toString("utf8"));
    expect(header).toEqual(f.request.jsonHeader);
    expect(Buffer.from(req.body.subarray(headerLength)).toString("base64")).toBe(f.request.binaryBase64);

    // The response: Triton's FP32 bytes, bit for bit.
    const expected = new Float32Array(new Uint8Array(Buffer.from(f.response.binaryBase64!, "base64")).buffer);
    expect(logits.rows).toBe(2);
    expect(logits.width).toBe(60);
    expect(Array.from(logits.data)).toEqual(Array.from(expected));
    expect(argmaxLabels(logits.data, logits.width)).toEqual(["alarm_set", "weather_query"]);
  });

  it("decodes logits Triton returns as JSON data (binary_data_output ignored or unsupported)", async () => {
    const f = load("infer-json");
    const { client: c } = client(f);
    const logits = await c.infer("massive-scratch", tokenBatch(f.texts!));
    const body = f.response.body as any;
    expect(logits.rows).toBe(2);
    expect(Array.from(logits.data)).toEqual(body.outputs[0].data);
    expect(argmaxLabels(logits.data, logits.width)).toEqual(["alarm_set", "weather_query"]);
  });

  it("maps Triton's 404 unknown-model error to UNKNOWN_MODEL", async () => {
    const { client: c } = client(load("error-unknown-model"));
    expect(await codeOf(c.infer("no-such-model", tokenBatch(["hi"])))).toBe("UNKNOWN_MODEL");
  });

  it("maps Triton's 400 shape error and 503 queue-full to UPSTREAM_UNAVAILABLE", async () => {
    for (const name of ["error-bad-shape", "error-queue-full"]) {
      const { client: c } = client(load(name));
      expect(await codeOf(c.infer("massive-scratch", tokenBatch(["hi"]))), name).toBe("UPSTREAM_UNAVAILABLE");
    }
  });

  it("verifies the model through Triton's config parameters when it serves no bundle.json", async () => {
    const routes: Record<string, Fixture> = {
      "/v2/models/massive-scratch/bundle": load("bundle-extension-absent"),
      "/v2/models/massive-scratch/labels": load("bundle-extension-absent"),
      "/v2/models/massive-scratch/config": load("model-config"),
    };
    const routed = (mutate?: (config: any) => void) =>
      (async (input: RequestInfo | URL) => {
        const path = new URL(String(input)).pathname;
        const fixture = structuredClone(routes[path]);
        if (!fixture) return new Response('{"error":"Not Found"}', { status: 404 });
        if (mutate && path.endsWith("/config")) mutate(fixture.response.body);
        return tritonResponse(fixture.response);
      }) as typeof fetch;
    const edgeModel = new EdgeModel({
      vocabText: readFileSync(join(BUNDLE, "vocab.txt"), "utf8"),
      labels,
      manifest: bundle,
    });
    const verifier = (f: typeof fetch) =>
      new ModelVerifier(
        edgeModel,
        new V2Client({ url: "https://triton.test:8000", timeoutMs: 5000, fetch: f }),
      );

    const verified = await verifier(routed()).verify("massive-scratch");
    expect(verified).toMatchObject({ name: "massive-scratch", labelCount: 60 });
    expect(verified.calibration.temperature).toBe(bundle.calibration.temperature);

    const wrongVocab = verifier(
      routed((c) => (c.parameters.intentql_vocab_sha256.string_value = "0".repeat(64))),
    );
    await expect(wrongVocab.verify("massive-scratch")).rejects.toThrow(/vocab sha256 000000000000… ≠ edge/);
    const noIdentity = verifier(routed((c) => delete c.parameters));
    await expect(noIdentity.verify("massive-scratch")).rejects.toThrow(/lacks the intentql_vocab_sha256/);
    const narrow = verifier(routed((c) => (c.output[0].dims = ["59"])));
    await expect(narrow.verify("massive-scratch")).rejects.toThrow(/59 columns, edge 60 labels/);
  });

  it("an unknown model stays UNKNOWN_MODEL when neither bundle nor config exist", async () => {
    const { client: c } = client(load("bundle-extension-absent"));
    expect(await codeOf(c.bundleJson("massive-scratch"))).toBe("UNKNOWN_MODEL");
    expect(await codeOf(c.modelConfig("massive-scratch"))).toBe("UNKNOWN_MODEL");
  });
});
