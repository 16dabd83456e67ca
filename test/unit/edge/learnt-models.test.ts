/**
 * Models the edge does not embed are learnt from the upstream at runtime (upstream/verify-model.ts):
 * classify(model:) answers with that model's own labels, tokenized with its own vocabulary, with no
 * rebuild; a bundle whose vocab.txt does not match its sha256 is MODEL_MISMATCH; learnt models are
 * fetched once and bounded in number per isolate.
 */
import { sha256Hex } from "@intentql/schema";
import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";
import { afterEach, describe, expect, it } from "vitest";
import { EdgeModel } from "../../../edge/src/classifier/edge-model.ts";
import type { V2Client } from "../../../edge/src/upstream/v2-client.ts";
import { MAX_LEARNT_VOCAB_CHARS, ModelVerifier } from "../../../edge/src/upstream/verify-model.ts";
import { readBundleAssets, startTestEdge, type TestEdge } from "../../support/edge-app.ts";
import { type FakeUpstream, fakeLabelFor, startFakeUpstream } from "../../support/edge-fake-upstream.ts";

const VOCAB = `${["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "book", "a", "taxi", "lights", "off", "##s"].join("\n")}\n`;
const LABELS = [
  { id: 0, name: "book_taxi", scenario: "book", action: "taxi" },
  { id: 1, name: "lights_off", scenario: "lights", action: "off" },
  { id: 2, name: "smalltalk", scenario: "smalltalk", action: "smalltalk" },
];
const CLASSIFY = `query ($texts: [String!]!, $model: String) {
  classify(texts: $texts, model: $model) { intent { name scenario } score outOfScope model tokens }
}`;

let upstream: FakeUpstream | undefined;
let edge: TestEdge | undefined;
afterEach(async () => {
  await edge?.dispose();
  await upstream?.close();
  edge = upstream = undefined;
});

async function customUpstream(vocabSha256?: string): Promise<FakeUpstream> {
  const sha = vocabSha256 ?? (await sha256Hex(VOCAB));
  return startFakeUpstream({
    model: "my-intents",
    labels: LABELS,
    vocabText: VOCAB,
    manifestPatch: (m) => {
      m.name = "my-intents";
      m.version = "2.0.0";
      m.tokenizer = { ...(m.tokenizer as object), vocabSha256: sha, vocabSize: 11 };
      m.labels = { file: "labels.json", sha256: "0".repeat(64), count: LABELS.length };
      m.outputs = [{ name: "logits", datatype: "FP32", shape: [-1, LABELS.length] }];
      m.calibration = { temperature: 1, outOfScope: { threshold: 0.5, rule: "test" } };
    },
  });
}

describe("a model the edge does not embed", () => {
  it("is learnt from the upstream once: its labels, its vocabulary, its calibration", async () => {
    upstream = await customUpstream();
    edge = await startTestEdge(upstream.url, { upstream: { model: "my-intents" } });
    const texts = ["book a taxi", "lights off", "unknown words here"];
    const { body } = await edge.gql(CLASSIFY, { texts, model: "my-intents" });
    expect(body.errors).toBeUndefined();
    const tokenizer = new BertWordPieceTokenizer(parseVocabTxt(VOCAB));
    const rows = body.data.classify as {
      intent: { name: string; scenario: string };
      model: string;
      tokens: number;
    }[];
    rows.forEach((row, i) => {
      const { ids } = tokenizer.encode(texts[i]!);
      // The fake answers from the ids it received: they are this model's vocabulary's ids.
      expect(row.intent.name).toBe(LABELS[fakeLabelFor(ids, LABELS.length)]!.name);
      expect(row.tokens).toBe(ids.length);
      expect(row.model).toBe("my-intents");
    });
    expect(upstream.calls[0]!.ids).toEqual(texts.map((t) => tokenizer.encode(t).ids));
    const fetches = upstream.requests.filter((r) => r.endsWith("/vocab")).length;
    await edge.gql(CLASSIFY, { texts: ["book a taxi"], model: "my-intents" });
    expect(upstream.requests.filter((r) => r.endsWith("/vocab")).length).toBe(fetches);
    expect(fetches).toBe(1);
    const intents = await edge.gql('{ intents(model: "my-intents") { name scenario description } }');
    expect(intents.body.data.intents.map((i: { name: string }) => i.name)).toEqual(LABELS.map((l) => l.name));
    expect(intents.body.data.intents[0].description).toBe("book: taxi");
  });

  it("is learnt again when the upstream answers as another version (a reload), once per request", async () => {
    upstream = await customUpstream();
    edge = await startTestEdge(upstream.url, { upstream: { model: "my-intents" } });
    expect(
      (await edge.gql(CLASSIFY, { texts: ["book a taxi"], model: "my-intents" })).body.errors,
    ).toBeUndefined();
    upstream.answerVersion = "3.0.0"; // its bundle.json still says 2.0.0: relearning cannot help
    const { body } = await edge.gql(CLASSIFY, { texts: ["lights off"], model: "my-intents" });
    expect(body.errors?.[0]?.extensions?.code).toBe("MODEL_MISMATCH");
    expect(body.errors?.[0]?.message).toMatch(/answered as version 3.0.0, but its bundle.json says 2.0.0/);
    expect(upstream.requests.filter((r) => r.endsWith("/vocab"))).toHaveLength(2);
    upstream.answerVersion = null;
    expect(
      (await edge.gql(CLASSIFY, { texts: ["lights off"], model: "my-intents" })).body.errors,
    ).toBeUndefined();
  });

  it("is refused with MODEL_MISMATCH when its vocab.txt is not the one its bundle.json names", async () => {
    upstream = await customUpstream("a".repeat(64));
    edge = await startTestEdge(upstream.url, { upstream: { model: "my-intents" } });
    const { body } = await edge.gql(CLASSIFY, { texts: ["book a taxi"], model: "my-intents" });
    expect(body.errors?.[0]?.extensions?.code).toBe("MODEL_MISMATCH");
    expect(body.errors?.[0]?.message).toMatch(/cannot be learnt: its vocab.txt has sha256/);
    expect(upstream.calls).toHaveLength(0);
  });

  it("is refused with MODEL_MISMATCH when the upstream has no vocab route to learn it from", async () => {
    upstream = await startFakeUpstream({
      manifestPatch: (m) => {
        (m.tokenizer as { vocabSha256: string }).vocabSha256 = "b".repeat(64);
      },
    });
    edge = await startTestEdge(upstream.url);
    const { body } = await edge.gql(CLASSIFY, { texts: ["book a taxi"] });
    expect(body.errors?.[0]?.extensions?.code).toBe("MODEL_MISMATCH");
    expect(body.errors?.[0]?.message).toMatch(
      /vocab sha256 .* cannot be learnt: the upstream serves no vocab.txt/,
    );
  });

  it.each([
    [
      "more labels than a bundle may have (256)",
      257,
      "x",
      /it has 257 labels; a bundle may have at most 256/,
    ],
    ["a label name over 100 characters", LABELS.length, "x".repeat(101), /label 0's name is longer than 100/],
  ])("is refused with MODEL_MISMATCH when its bundle has %s", async (_what, count, firstName, message) => {
    const sha = await sha256Hex(VOCAB);
    const manifest = JSON.parse(JSON.stringify(readBundleAssets().manifest));
    manifest.tokenizer.vocabSha256 = sha;
    manifest.labels = { file: "labels.json", sha256: "0".repeat(64), count };
    manifest.outputs = [{ name: "logits", datatype: "FP32", shape: [-1, count] }];
    const labels = Array.from({ length: count }, (_, id) => ({
      id,
      name: id === 0 ? firstName : `intent_${id}`,
    }));
    let vocabFetches = 0;
    // A fake client only to serve the hostile bundle: the verifier's own checks run as in production.
    const client = {
      modelNames: async () => ["wide"],
      bundleJson: async () => manifest,
      labelsJson: async () => labels,
      vocabText: async () => {
        vocabFetches++;
        return VOCAB;
      },
    } as unknown as V2Client;
    const verifier = new ModelVerifier(new EdgeModel(readBundleAssets()), client);
    const refused = await verifier.verify("wide").catch((error: unknown) => error);
    expect((refused as { extensions?: { code?: string } }).extensions?.code).toBe("MODEL_MISMATCH");
    expect((refused as Error).message).toMatch(message);
    expect(vocabFetches).toBe(0); // refused before fetching anything more
  });

  it("is refused with MODEL_MISMATCH when its vocab.txt is over MAX_LEARNT_VOCAB_CHARS", async () => {
    const big = `${VOCAB}${"x".repeat(MAX_LEARNT_VOCAB_CHARS)}\n`;
    const sha = await sha256Hex(big);
    const manifest = JSON.parse(JSON.stringify(readBundleAssets().manifest));
    manifest.tokenizer.vocabSha256 = sha;
    manifest.labels = { file: "labels.json", sha256: "0".repeat(64), count: LABELS.length };
    manifest.outputs = [{ name: "logits", datatype: "FP32", shape: [-1, LABELS.length] }];
    const client = {
      modelNames: async () => ["big"],
      bundleJson: async () => manifest,
      labelsJson: async () => LABELS,
      vocabText: async () => big,
    } as unknown as V2Client;
    const refused = await new ModelVerifier(new EdgeModel(readBundleAssets()), client)
      .verify("big")
      .catch((error: unknown) => error);
    expect((refused as { extensions?: { code?: string } }).extensions?.code).toBe("MODEL_MISMATCH");
    expect((refused as Error).message).toMatch(
      /its vocab.txt has \d+ characters; a learnt model may have 1048576/,
    );
  });

  it("keeps at most 4 learnt models per isolate: the least recently learnt is dropped, and learnt again", async () => {
    const sha = await sha256Hex(VOCAB);
    const manifest = JSON.parse(JSON.stringify(readBundleAssets().manifest));
    manifest.tokenizer.vocabSha256 = sha;
    manifest.labels = { file: "labels.json", sha256: "0".repeat(64), count: LABELS.length };
    manifest.outputs = [{ name: "logits", datatype: "FP32", shape: [-1, LABELS.length] }];
    const vocabFetches: string[] = [];
    // A fake client only to count calls: the verifier's own logic runs as in production.
    const client = {
      modelNames: async () => ["m0", "m1", "m2", "m3", "m4"],
      bundleJson: async () => manifest,
      labelsJson: async () => LABELS,
      vocabText: async (m: string) => {
        vocabFetches.push(m);
        return VOCAB;
      },
    } as unknown as V2Client;
    const verifier = new ModelVerifier(new EdgeModel(readBundleAssets()), client);
    for (const m of ["m0", "m1", "m2", "m3", "m4"]) expect((await verifier.verify(m)).learnt).toBe(true);
    await verifier.verify("m4"); // still known
    await verifier.verify("m0"); // dropped when m4 came: learnt again
    expect(vocabFetches).toEqual(["m0", "m1", "m2", "m3", "m4", "m0"]);
  });
});
