/**
 * `intentql train` end to end, through the bin: a bundle that loads, scores held-out texts with every
 * variant through onnxruntime-node, is served by gpu-service next to massive-scratch, and bad data
 * refused with every problem named and nothing written.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBundle } from "@intentql/gpu-service";
import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";

const tmp = mkdtempSync(join(tmpdir(), "intentql-train-"));

function intentql(...args: string[]) {
  const r = spawnSync(process.execPath, ["cli/bin/intentql.js", ...args], {
    encoding: "utf8",
    timeout: 600_000,
  });
  const lines = r.stdout.trim().split("\n");
  return { code: r.status, stderr: r.stderr, last: lines[lines.length - 1] ?? "" };
}

function file(name: string, content: string | Uint8Array): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

const jsonl = (rows: { text: string; label_text: string }[]) =>
  `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`;

describe("intentql train on the custom-intents example (8 intents × 100 texts)", () => {
  const out = join(tmp, "my-intents");
  let result: ReturnType<typeof intentql>;
  beforeAll(() => {
    result = intentql("train", "--data", "data/custom-example/train.jsonl", "--out", out);
  });

  it("writes a complete bundle in well under the 10-minute budget, and says what it scored", async () => {
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.last);
    expect(summary).toMatchObject({ name: "my-intents", bundle: out });
    expect(summary.seconds).toBeLessThan(120);
    expect(summary.validation.n).toBeGreaterThanOrEqual(150);
    expect(summary.validation.accuracy).toBeGreaterThanOrEqual(0.9);
    const bundle = await loadBundle(out); // validates the manifest, the labels and every file's sha256
    expect(bundle.labels.map((l) => l.name)).toEqual([
      "add_event",
      "book_taxi",
      "check_weather",
      "lights_off",
      "order_food",
      "play_music",
      "send_email",
      "set_alarm",
    ]);
    expect(Object.keys(bundle.manifest.variants).sort()).toEqual(["fp16", "fp32", "int8"]);
    const { temperature, outOfScope } = bundle.manifest.calibration!;
    expect(temperature).toBeGreaterThan(0);
    expect(outOfScope.threshold).toBeGreaterThan(0);
    expect(outOfScope.threshold).toBeLessThan(1);
    const parity = JSON.parse(readFileSync(join(out, "parity.json"), "utf8"));
    for (const variant of ["fp32", "fp16", "int8"])
      expect(parity[variant].argmaxAgreement).toBeGreaterThanOrEqual(0.99);
    expect(parity.fp32.maxAbsLogitDelta).toBeLessThan(1e-4);
  });

  it.each(["fp32", "fp16", "int8"])(
    "reaches 90 percent or more on the held-out test texts with the %s variant",
    (variant) => {
      const r = intentql(
        "predict",
        "--bundle",
        out,
        "--data",
        "data/custom-example/test.jsonl",
        "--variant",
        variant,
      );
      expect(r.code, r.stderr).toBe(0);
      const scored = JSON.parse(r.last);
      expect(scored.n).toBe(784);
      expect(scored.accuracy).toBeGreaterThanOrEqual(0.9);
    },
  );

  it("is deterministic: the same data and seed give the same model files", () => {
    const again = join(tmp, "again");
    const r = intentql(
      "train",
      "--data",
      "data/custom-example/train.jsonl",
      "--out",
      again,
      "--name",
      "my-intents",
    );
    expect(r.code, r.stderr).toBe(0);
    for (const name of ["model.onnx", "model.fp16.onnx", "model.int8.onnx", "labels.json"])
      expect(readFileSync(join(again, name)).equals(readFileSync(join(out, name))), name).toBe(true);
  });

  describe("served by gpu-service next to massive-scratch", () => {
    let service: GpuServiceHandle;
    beforeAll(async () => {
      service = await startGpuService({ bundles: ["models/massive-scratch", out] });
    }, 120_000);
    afterAll(() => service?.stop());

    it("answers each model with its own labels' logits", async () => {
      for (const [model, dir, width] of [
        ["my-intents", out, 8],
        ["massive-scratch", "models/massive-scratch", 60],
      ] as const) {
        // Each model reads ids of its own vocabulary.
        const vocab = parseVocabTxt(readFileSync(join(dir, "vocab.txt"), "utf8"));
        const batch = new BertWordPieceTokenizer(vocab).encodeBatch([
          "book me a cab to the airport",
          "turn off the lights",
        ]);
        const shape = [batch.batchSize, batch.seqLength];
        const response = await fetch(`${service.url}/v2/models/${model}/infer`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            inputs: [
              { name: "input_ids", datatype: "INT64", shape, data: Array.from(batch.inputIds, Number) },
              {
                name: "attention_mask",
                datatype: "INT64",
                shape,
                data: Array.from(batch.attentionMask, Number),
              },
            ],
          }),
        });
        const answer = (await response.json()) as { outputs?: { name: string; shape: number[] }[] };
        expect(response.status, JSON.stringify(answer)).toBe(200);
        expect(answer.outputs![0]!.shape).toEqual([2, width]);
      }
    });
  });
});

describe("intentql train refuses bad data, names every problem and writes nothing", () => {
  const many = (label: string, n: number, stem = label) =>
    Array.from({ length: n }, (_, i) => ({ text: `${stem} request number ${i}`, label_text: label }));

  it.each([
    [
      "invalid UTF-8",
      () =>
        file(
          "latin1.jsonl",
          Buffer.concat([Buffer.from(jsonl(many("a", 5))), Buffer.from([0x7b, 0xe9, 0x7d, 0x0a])]),
        ),
      /line 6: not valid UTF-8/,
    ],
    [
      "an empty text",
      () => file("empty.jsonl", jsonl([...many("a", 5), ...many("b", 5), { text: "  ", label_text: "a" }])),
      /line 11: the text is missing or empty/,
    ],
    [
      "a line that is not UTF-8 beside other bad lines: every one named",
      () =>
        file(
          "mixed.jsonl",
          Buffer.concat([
            Buffer.from(jsonl(many("a", 5))),
            Buffer.from("{not json\n"),
            Buffer.from([0x7b, 0xe9, 0x7d, 0x0a]),
            Buffer.from(jsonl([{ text: " ", label_text: "a" }])),
          ]),
        ),
      /line 6: not valid JSON[\s\S]*line 7: not valid UTF-8[\s\S]*line 8: the text is missing or empty/,
    ],
    ["a single label", () => file("one.jsonl", jsonl(many("a", 10))), /only one label \(a\)/],
    [
      "more labels than a bundle may have",
      () => file("wide.jsonl", jsonl(Array.from({ length: 257 }, (_, i) => many(`l${i}`, 3)).flat())),
      /257 labels; a model may have at most 256/,
    ],
    [
      "too few texts for a label",
      () => file("few.jsonl", jsonl([...many("a", 5), ...many("b", 2)])),
      /label "b" has 2 distinct text\(s\); each label needs at least 3/,
    ],
    [
      "the same text under two labels",
      () =>
        file(
          "conflict.jsonl",
          jsonl([...many("a", 5), ...many("b", 5), { text: "A request number 1", label_text: "b" }]),
        ),
      /line 11: the same text as line 2 .* with another label \("b" vs "a"\)/,
    ],
    ["not JSON", () => file("garbage.jsonl", `${jsonl(many("a", 5))}{not json\n`), /line 6: not valid JSON/],
  ])("%s", (_what, make, message) => {
    const out = join(tmp, `refused-${_what.replaceAll(" ", "-")}`);
    const r = intentql("train", "--data", make(), "--out", out);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it("--drop-conflicts trains without the texts that appear under several labels", () => {
    const data = file(
      "conflict-ok.jsonl",
      jsonl([...many("a", 6), ...many("b", 6), { text: "a request number 1", label_text: "b" }]),
    );
    const r = intentql(
      "train",
      "--data",
      data,
      "--out",
      join(tmp, "dropped"),
      "--drop-conflicts",
      "--epochs",
      "2",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/2 text\(s\) under several labels dropped/);
    const manifest = JSON.parse(readFileSync(join(tmp, "dropped", "bundle.json"), "utf8"));
    expect(manifest.training.conflictsDropped).toBe(2);
  });

  it("keeps an existing bundle folder unless --force", () => {
    const existing = join(tmp, "existing");
    mkdirSync(existing);
    writeFileSync(join(existing, "keep.txt"), "mine");
    const data = file("ok.jsonl", jsonl([...many("a", 5), ...many("b", 5, "other")]));
    const r = intentql("train", "--data", data, "--out", existing, "--epochs", "1");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/exists: choose another --out, or --force to replace it/);
    expect(r.stderr).not.toMatch(/training and \d+ validation texts/); // refused before reading or training
    expect(readFileSync(join(existing, "keep.txt"), "utf8")).toBe("mine");
    const forced = intentql("train", "--data", data, "--out", existing, "--epochs", "1", "--force");
    expect(forced.code, forced.stderr).toBe(0);
    expect(existsSync(join(existing, "keep.txt"))).toBe(false);
    expect(existsSync(join(existing, "bundle.json"))).toBe(true);
  });
});
