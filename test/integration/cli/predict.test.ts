import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const BUNDLE = "models/massive-scratch";
const TEST_SPLIT = "data/massive-en/test.jsonl";
const manifest = JSON.parse(readFileSync(join(BUNDLE, "bundle.json"), "utf8"));

function predict(...args: string[]) {
  const r = spawnSync(process.execPath, ["cli/bin/intentql.js", "predict", ...args], { encoding: "utf8" });
  const lines = r.stdout.trim().split("\n");
  return { code: r.status, stderr: r.stderr, last: lines[lines.length - 1] ?? "" };
}

const tmp = mkdtempSync(join(tmpdir(), "intentql-predict-"));
function dataFile(name: string, lines: string[]): string {
  const path = join(tmp, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

describe("intentql predict", () => {
  it("scores MASSIVE test exactly as PyTorch did at export (fp32), and int8 within 0.5 point; both meet issue 14's target", () => {
    const fp32 = predict("--bundle", BUNDLE, "--data", TEST_SPLIT);
    expect(fp32.code, fp32.stderr).toBe(0);
    const a = JSON.parse(fp32.last);
    expect(a.n).toBe(2974);
    // bundle.json's test metrics come from PyTorch in training/export.py: same predictions here.
    expect(a.accuracy).toBeCloseTo(manifest.metrics.test.accuracy, 10);
    expect(a.f1Macro).toBeCloseTo(manifest.metrics.test.f1Macro, 10);
    // the seed card's figures (pretrained DistilBERT + LoRA), which the default bundle must match
    expect(a.accuracy).toBeGreaterThanOrEqual(0.8779);
    expect(a.f1Macro).toBeGreaterThanOrEqual(0.8628);

    const int8 = predict("--bundle", BUNDLE, "--data", TEST_SPLIT, "--variant", "int8");
    expect(int8.code, int8.stderr).toBe(0);
    const b = JSON.parse(int8.last);
    expect(Math.abs(b.accuracy - a.accuracy)).toBeLessThanOrEqual(0.005);
    expect(Math.abs(b.f1Macro - a.f1Macro)).toBeLessThanOrEqual(0.005);
    expect(b.accuracy).toBeGreaterThanOrEqual(0.8779);
    expect(b.f1Macro).toBeGreaterThanOrEqual(0.8628);
  });

  it("reads both layouts and filters MASSIVE partitions", () => {
    const official = dataFile("official.jsonl", [
      JSON.stringify({
        id: "1",
        locale: "en-US",
        partition: "test",
        intent: "alarm_remove",
        utt: "please cancel my alarm",
      }),
      JSON.stringify({
        id: "2",
        locale: "en-US",
        partition: "train",
        intent: "alarm_set",
        utt: "wake me up at nine am",
      }),
      JSON.stringify({
        id: "3",
        locale: "en-US",
        partition: "test",
        intent: "alarm_set",
        utt: "wake me up at nine am on friday",
      }),
    ]);
    const r = predict("--bundle", BUNDLE, "--data", official, "--split", "test");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.last)).toMatchObject({ n: 2, accuracy: 1 });
    const hf = dataFile("hf.jsonl", [
      JSON.stringify({ text: "please cancel my alarm", label_text: "alarm_remove" }),
    ]);
    expect(JSON.parse(predict("--bundle", BUNDLE, "--data", hf, "--variant", "int8").last)).toMatchObject({
      n: 1,
      accuracy: 1,
    });
  });

  it("refuses labels the bundle does not have, naming them", () => {
    const path = dataFile("unknown.jsonl", [
      JSON.stringify({ text: "book a table", label_text: "restaurant_booking" }),
      JSON.stringify({ text: "cancel my alarm", label_text: "alarm_remove" }),
    ]);
    const r = predict("--bundle", BUNDLE, "--data", path);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 label\(s\) .* not in bundle massive-scratch: restaurant_booking/);
  });

  it("reports bad rows with their line numbers", () => {
    const path = dataFile("bad.jsonl", [
      JSON.stringify({ text: "cancel my alarm", label_text: "alarm_remove" }),
      "{not json",
      JSON.stringify({ text: "", label_text: "alarm_remove" }),
      JSON.stringify({ sentence: "x" }),
    ]);
    const r = predict("--bundle", BUNDLE, "--data", path);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/3 bad rows/);
    expect(r.stderr).toMatch(/line 2: not valid JSON/);
    expect(r.stderr).toMatch(/line 3: the text is missing or empty/);
    expect(r.stderr).toMatch(/line 4: expected "utt" and "intent"/);
  });

  it("--bootstrap gives accuracy's and F1-macro's standard error and 95% interval, the same for the same run", () => {
    const data = dataFile(
      "bootstrap.jsonl",
      readFileSync(TEST_SPLIT, "utf8").trim().split("\n").slice(0, 300),
    );
    const report = join(tmp, "bootstrap-report.json");
    const r = predict("--bundle", BUNDLE, "--data", data, "--bootstrap", "200", "--report", report);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.last);
    expect(out.bootstrap.resamples).toBe(200);
    for (const metric of ["accuracy", "f1Macro"] as const) {
      const { standardError, interval95 } = out.bootstrap[metric];
      expect(standardError).toBeGreaterThan(0);
      expect(interval95[0]).toBeLessThan(interval95[1]);
      expect(interval95[0]).toBeLessThanOrEqual(out[metric]);
      expect(interval95[1]).toBeGreaterThanOrEqual(out[metric] - 0.01); // F1's resamples run low
    }
    // 300 texts at ~88%: the binomial standard error is ~0.019
    expect(out.bootstrap.accuracy.standardError).toBeGreaterThan(0.012);
    expect(out.bootstrap.accuracy.standardError).toBeLessThan(0.026);
    expect(JSON.parse(readFileSync(report, "utf8")).bootstrap).toEqual(out.bootstrap);
    const again = JSON.parse(predict("--bundle", BUNDLE, "--data", data, "--bootstrap", "200").last);
    expect(again.bootstrap).toEqual(out.bootstrap); // seeded
  });

  it("refuses a --bootstrap of 1 or over 10,000 before scoring anything", () => {
    const one = predict("--bundle", BUNDLE, "--data", "x", "--bootstrap", "1");
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/--bootstrap needs at least 2 resamples/);
    const huge = predict("--bundle", BUNDLE, "--data", "x", "--bootstrap", "20000");
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/--bootstrap must be an integer from 0 to 10000 \(got "20000"\)/);
  });

  it("explains usage errors with exit code 2", () => {
    const noBundle = predict("--data", "x");
    expect(noBundle.code).toBe(2);
    expect(noBundle.stderr).toMatch(
      /--bundle is required: a model bundle directory, e.g. models\/massive-scratch/,
    );
    const r = predict("--bundle", BUNDLE, "--data", "x", "--variant", "int4");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--variant must be one of fp32, fp16, int8 \(got "int4"\)/);
    const missing = predict("--bundle", "no/such/bundle", "--data", "x");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read bundle\.json/);
  });
});
