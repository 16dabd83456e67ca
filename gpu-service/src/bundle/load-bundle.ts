import { readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import {
  BundleError,
  type BundleManifest,
  type Label,
  MODEL_INPUTS,
  MODEL_OUTPUT,
  sha256Hex,
  type Variant,
  validateLabels,
  validateManifest,
} from "@intentql/schema";

export interface LoadedBundle {
  dir: string;
  manifest: BundleManifest;
  labels: Label[];
  vocabText: string;
  /** Absolute path of a variant's ONNX file. */
  modelPath(variant: Variant): string;
}

async function readOrFail(where: string, path: string): Promise<Buffer<ArrayBuffer>> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BundleError(where, `cannot read ${basename(path)} (${code ?? String(error)})`);
  }
}

/**
 * Loads a bundle folder and verifies it before anything runs: manifest shape, the sha256 of every
 * listed file (a corrupted or swapped model is refused, not served), vocab and labels hashes.
 * The ONNX signature itself is checked by `checkSessionSignature` once a session exists.
 */
export async function loadBundle(dirPath: string): Promise<LoadedBundle> {
  const dir = resolve(dirPath);
  const where = dirPath;
  const manifestBytes = await readOrFail(where, join(dir, "bundle.json"));
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifestBytes.toString("utf8"));
  } catch (error) {
    throw new BundleError(where, `bundle.json is not valid JSON (${(error as Error).message})`);
  }
  const manifest = validateManifest(where, parsed);

  const listed = new Map(manifest.files.map((f) => [f.path, f.sha256]));
  const mustBeListed = [
    manifest.tokenizer.vocab,
    manifest.labels.file,
    ...Object.values(manifest.variants).map((v) => v!.file),
  ];
  for (const name of mustBeListed) {
    if (!listed.has(name)) throw new BundleError(where, `${name} is used but not in the files list`);
  }
  const contents = new Map<string, Buffer<ArrayBuffer>>();
  for (const [name, expected] of listed) {
    const bytes = await readOrFail(where, join(dir, name));
    const actual = await sha256Hex(bytes);
    if (actual !== expected)
      throw new BundleError(where, `${name} sha256 is ${actual}, bundle.json says ${expected}`);
    if (!name.endsWith(".onnx")) contents.set(name, bytes);
  }
  for (const [variant, entry] of Object.entries(manifest.variants)) {
    if (entry!.sha256 !== listed.get(entry!.file))
      throw new BundleError(where, `variant ${variant} sha256 disagrees with the files list`);
  }
  const vocabText = contents.get(manifest.tokenizer.vocab)!.toString("utf8");
  if ((await sha256Hex(vocabText)) !== manifest.tokenizer.vocabSha256)
    throw new BundleError(where, "tokenizer.vocabSha256 does not match vocab.txt");
  const vocabSize = vocabText.split("\n").length - (vocabText.endsWith("\n") ? 1 : 0);
  if (vocabSize !== manifest.tokenizer.vocabSize)
    throw new BundleError(
      where,
      `vocab.txt has ${vocabSize} entries, bundle.json says ${manifest.tokenizer.vocabSize}`,
    );
  if ((await sha256Hex(contents.get(manifest.labels.file)!)) !== manifest.labels.sha256)
    throw new BundleError(where, "labels.sha256 does not match labels.json");
  let labelsRaw: unknown;
  try {
    labelsRaw = JSON.parse(contents.get(manifest.labels.file)!.toString("utf8"));
  } catch (error) {
    throw new BundleError(where, `labels.json is not valid JSON (${(error as Error).message})`);
  }
  const labels = validateLabels(where, labelsRaw, manifest.labels.count);

  return {
    dir,
    manifest,
    labels,
    vocabText,
    modelPath(variant: Variant): string {
      const entry = manifest.variants[variant];
      if (!entry) {
        const have = Object.keys(manifest.variants).join(", ");
        throw new BundleError(where, `has no ${variant} variant (has ${have})`);
      }
      return join(dir, entry.file);
    },
  };
}

/** Refuses an ONNX session whose inputs/outputs are not the bundle signature. */
export function checkSessionSignature(
  where: string,
  session: { inputNames: readonly string[]; outputNames: readonly string[] },
): void {
  const inputs = [...session.inputNames].sort();
  const expected = [...MODEL_INPUTS].sort();
  if (inputs.length !== expected.length || inputs.some((n, i) => n !== expected[i]))
    throw new BundleError(
      where,
      `model inputs are [${session.inputNames.join(", ")}], expected [${MODEL_INPUTS.join(", ")}]`,
    );
  if (!session.outputNames.includes(MODEL_OUTPUT))
    throw new BundleError(
      where,
      `model outputs are [${session.outputNames.join(", ")}], expected "${MODEL_OUTPUT}"`,
    );
}
