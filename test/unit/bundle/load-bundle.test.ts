import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdtemp, open, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkSessionSignature, loadBundle, MAX_DATA_FILE_BYTES } from "@intentql/gpu-service";
import { BundleError } from "@intentql/schema";
import * as ort from "onnxruntime-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const DEFAULT_BUNDLE = "models/massive-scratch";
// Copies only the small files plus the int8 model: the refusals below never need the others' bytes,
// but their sha256 entries must still verify, so the manifest is rewritten to list what is copied.
const SMALL = ["bundle.json", "labels.json", "vocab.txt", "model.int8.onnx"];

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

let dir: string;

async function manifest(): Promise<Record<string, any>> {
  return JSON.parse(await readFile(join(dir, "bundle.json"), "utf8"));
}
async function writeManifest(m: Record<string, any>): Promise<void> {
  await writeFile(join(dir, "bundle.json"), JSON.stringify(m));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "intentql-bundle-"));
  for (const f of SMALL) await cp(join(DEFAULT_BUNDLE, f), join(dir, f));
  const m = await manifest();
  m.variants = { int8: m.variants.int8 };
  m.defaultVariant = { cpu: "int8", cuda: "int8" };
  m.files = m.files.filter((f: { path: string }) => SMALL.includes(f.path));
  await writeManifest(m);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadBundle", () => {
  it("loads the committed default bundle and verifies every file", async () => {
    const bundle = await loadBundle(DEFAULT_BUNDLE);
    expect(bundle.manifest.name).toBe("massive-scratch");
    expect(bundle.labels).toHaveLength(60);
    expect(bundle.labels[0]).toEqual({ id: 0, name: "alarm_query", scenario: "alarm", action: "query" });
    expect(sha256(bundle.vocabText)).toBe(bundle.manifest.tokenizer.vocabSha256);
    expect(Object.keys(bundle.manifest.variants).sort()).toEqual(["fp16", "fp32", "int8"]);
  });

  it("refuses a model file whose bytes changed", async () => {
    const path = join(dir, "model.int8.onnx");
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(path, bytes);
    await expect(loadBundle(dir)).rejects.toThrow(
      /model\.int8\.onnx sha256 is [0-9a-f]{64}, bundle\.json says/,
    );
  });

  it("refuses a listed file that is no regular file, or too big, at once and without reading it", async () => {
    // Each once hung or grew the load without end: /dev/zero was read at ~250 MB/s (12 GB in 40 s)
    // and a FIFO would wait for a writer.
    const labels = join(dir, "labels.json");
    const started = Date.now();
    await rm(labels);
    await symlink("/dev/zero", labels);
    await expect(loadBundle(dir)).rejects.toThrow(/labels\.json is not a regular file/);
    await rm(labels);
    expect(spawnSync("mkfifo", [labels]).status).toBe(0);
    await expect(loadBundle(dir)).rejects.toThrow(/labels\.json is not a regular file/);
    await rm(labels);
    const sparse = await open(labels, "w"); // sparse: no disk used, and nothing is read
    await sparse.truncate(MAX_DATA_FILE_BYTES + 1);
    await sparse.close();
    await expect(loadBundle(dir)).rejects.toThrow(
      new RegExp(`labels\\.json has ${MAX_DATA_FILE_BYTES + 1} bytes; the limit is ${MAX_DATA_FILE_BYTES}`),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("refuses a missing file with its name", async () => {
    await rm(join(dir, "vocab.txt"));
    await expect(loadBundle(dir)).rejects.toThrow(/cannot read vocab\.txt \(ENOENT\)/);
  });

  it("refuses a missing or malformed bundle.json", async () => {
    await rm(join(dir, "bundle.json"));
    await expect(loadBundle(dir)).rejects.toThrow(/cannot read bundle\.json/);
    await writeFile(join(dir, "bundle.json"), "{ not json");
    await expect(loadBundle(dir)).rejects.toThrow(/bundle\.json is not valid JSON/);
  });

  it("refuses a vocab that does not match tokenizer.vocabSha256, even when the files list was updated", async () => {
    const vocab = `${await readFile(join(dir, "vocab.txt"), "utf8")}extra\n`;
    await writeFile(join(dir, "vocab.txt"), vocab);
    const m = await manifest();
    m.files.find((f: { path: string }) => f.path === "vocab.txt").sha256 = sha256(vocab);
    await writeManifest(m);
    await expect(loadBundle(dir)).rejects.toThrow(/tokenizer\.vocabSha256 does not match vocab\.txt/);
  });

  /** Rewrites labels.json with `change` applied, its sha256 updated in bundle.json as an exporter would. */
  async function changeLabels(change: (labels: { id: number; name: string; scenario: string }[]) => void) {
    const labels = JSON.parse(await readFile(join(dir, "labels.json"), "utf8"));
    change(labels);
    const text = JSON.stringify(labels);
    await writeFile(join(dir, "labels.json"), text);
    const m = await manifest();
    m.labels.sha256 = sha256(text);
    m.files.find((f: { path: string }) => f.path === "labels.json").sha256 = sha256(text);
    await writeManifest(m);
  }

  it.each([
    [
      "labels out of logit order",
      (l: { id: number }[]) => ([l[0], l[1]] = [l[1]!, l[0]!]),
      /label at index 0 has id 1/,
    ],
    [
      "a label name over 100 characters",
      (l: { name: string }[]) => (l[3]!.name = "x".repeat(101)),
      /label 3's name is longer than 100 characters/,
    ],
    [
      "a label whose scenario holds a bidirectional control",
      (l: { scenario: string }[]) => (l[5]!.scenario = "alarm\u202e"),
      /label 5's scenario holds a control, bidirectional or invisible/,
    ],
    [
      "a label name that differs from another only by an invisible character",
      (l: { name: string }[]) => (l[7]!.name = `${l[6]!.name}\u200d`),
      /label 7's name holds a control, bidirectional or invisible/,
    ],
    [
      "a label name with an Arabic letter mark",
      (l: { name: string }[]) => (l[8]!.name = "set_alarm\u061c"),
      /label 8's name holds a control, bidirectional or invisible/,
    ],
  ])("refuses %s", async (_what, change, message) => {
    await changeLabels(change as (labels: { id: number; name: string; scenario: string }[]) => void);
    await expect(loadBundle(dir)).rejects.toThrow(message);
  });

  it.each([
    [
      "a wrong input signature",
      (m: any) => (m.inputs[0].name = "token_ids"),
      /inputs must be input_ids, attention_mask/,
    ],
    [
      "a logits width that disagrees with the labels",
      (m: any) => (m.outputs[0].shape = [-1, 59]),
      /logits have 59 columns but labels\.count is 60/,
    ],
    ["an unknown format", (m: any) => (m.format = "other/9"), /format is "other\/9"/],
    [
      "a path that leaves the folder",
      (m: any) => m.files.push({ path: "../x", sha256: "0".repeat(64), bytes: 1 }),
      /must be a plain name/,
    ],
    [
      "a used file missing from the files list",
      (m: any) => (m.files = m.files.filter((f: any) => f.path !== "labels.json")),
      /labels\.json is used but not in the files list/,
    ],
    ["an unknown variant", (m: any) => (m.variants.int4 = m.variants.int8), /unknown variant "int4"/],
    [
      "a version that is no short version string",
      (m: any) => (m.version = "v".repeat(65)),
      /version must be 1-64 letters, digits/,
    ],
    [
      "a calibration without its out-of-scope threshold",
      (m: any) => (m.calibration = { temperature: 1 }),
      /calibration.outOfScope.threshold must be a number in \[0, 1\]/,
    ],
    [
      "a calibration temperature that is not a number",
      (m: any) => (m.calibration.temperature = "hot"),
      /calibration.temperature must be a positive number/,
    ],
    [
      "more labels than a bundle may have",
      (m: any) => {
        m.labels.count = 257;
        m.outputs[0].shape = [-1, 257];
      },
      /it has 257 labels; a bundle may have at most 256/,
    ],
  ])("refuses %s", async (_name, mutate, message) => {
    const m = await manifest();
    mutate(m);
    await writeManifest(m);
    await expect(loadBundle(dir)).rejects.toThrow(message);
    await expect(loadBundle(dir)).rejects.toBeInstanceOf(BundleError);
  });

  it("names the variants it has when asked for one it lacks", async () => {
    const bundle = await loadBundle(dir);
    expect(() => bundle.modelPath("fp16")).toThrow(/has no fp16 variant \(has int8\)/);
  });
});

describe("checkSessionSignature", () => {
  it("accepts the default model's real ONNX session", async () => {
    const bundle = await loadBundle(dir);
    const session = await ort.InferenceSession.create(bundle.modelPath("int8"));
    expect(() => checkSessionSignature(dir, session)).not.toThrow();
  });

  it("refuses a session with other inputs or outputs", () => {
    expect(() => checkSessionSignature("b", { inputNames: ["input_ids"], outputNames: ["logits"] })).toThrow(
      /model inputs are \[input_ids\]/,
    );
    expect(() =>
      checkSessionSignature("b", { inputNames: ["attention_mask", "input_ids"], outputNames: ["probs"] }),
    ).toThrow(/expected "logits"/);
  });
});
