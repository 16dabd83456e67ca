/**
 * What docs/MODEL.md promises of the default bundle, checked on the committed files with
 * onnxruntime-node and the edge's own tokenizer and calibration: typed text tokenizes without
 * [UNK], gibberish is flagged out of scope, in-scope text mostly is not, and the folder fits the
 * size budget.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadBundle } from "@intentql/gpu-service";
import { calibratedProbabilities, isOutOfScope } from "@intentql/schema";
import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";

const bundle = await loadBundle("models/massive-scratch");
const vocab = parseVocabTxt(bundle.vocabText);
const tokenizer = new BertWordPieceTokenizer(vocab);
const calibration = {
  temperature: bundle.manifest.calibration!.temperature,
  outOfScopeThreshold: bundle.manifest.calibration!.outOfScope.threshold,
};
const readJsonl = <T>(path: string): T[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);

let session: ort.InferenceSession;
beforeAll(async () => {
  session = await ort.InferenceSession.create(bundle.modelPath("fp32"), { executionProviders: ["cpu"] });
});

/** Whether each text is flagged out of scope, as the edge decides it. */
async function flagged(texts: string[]): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let start = 0; start < texts.length; start += 256) {
    const batch = tokenizer.encodeBatch(texts.slice(start, start + 256));
    const shape = [batch.batchSize, batch.seqLength];
    const result = await session.run({
      input_ids: new ort.Tensor("int64", batch.inputIds, shape),
      attention_mask: new ort.Tensor("int64", batch.attentionMask, shape),
    });
    const logits = result.logits!.data as Float32Array;
    const width = bundle.labels.length;
    for (let r = 0; r < batch.batchSize; r++) {
      const p = calibratedProbabilities(logits.subarray(r * width, (r + 1) * width), calibration.temperature);
      out.push(isOutOfScope(Math.max(...p), calibration));
    }
  }
  return out;
}

const rate = (flags: boolean[]) => flags.filter(Boolean).length / flags.length;

describe("the default bundle (models/massive-scratch)", () => {
  it("fits 24,000,000 bytes, every file of the folder counted (issue 14)", () => {
    const dir = "models/massive-scratch";
    const files = readdirSync(dir);
    expect(files).toEqual(
      expect.arrayContaining(["bundle.json", "model.onnx", "model.fp16.onnx", "model.int8.onnx"]),
    );
    const total = files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    expect(total).toBeLessThanOrEqual(24_000_000);
  });

  it("reads typed numbers and symbols: no [UNK] in times, dates, money and percentages", () => {
    const unk = vocab.unkId;
    for (const text of [
      "wake me up at 7am",
      "remind me on 12/25 at 6:30",
      "it costs $5.99",
      "set volume to 25%",
      "call 555-0123",
    ]) {
      const { ids } = tokenizer.encode(text);
      expect(ids, text).not.toContain(unk);
    }
  });

  it("flags gibberish out of scope, keyboard mashing included", async () => {
    const set = readJsonl<{ text: string; category: string }>("training/oos_eval.jsonl");
    const gibberish = set.filter((r) => r.category === "gibberish").map((r) => r.text);
    expect(gibberish.length).toBeGreaterThanOrEqual(50);
    expect(rate(await flagged(gibberish))).toBeGreaterThanOrEqual(0.9);
    expect(await flagged(["asdf qwerty zxcv", "jkjkjkjk lkjlkj"])).toEqual([true, true]);
  });

  it("flags few in-scope texts: at most 8% of MASSIVE test", async () => {
    const test = readJsonl<{ text: string }>("data/massive-en/test.jsonl").map((r) => r.text);
    const r = rate(await flagged(test));
    expect(r).toBeGreaterThan(0.01);
    expect(r).toBeLessThanOrEqual(0.08);
  });
});
