import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
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

/** An ONNX file may be this big (a model of ~500 M fp32 parameters); Buffer's own limit is 2 GiB. */
export const MAX_MODEL_FILE_BYTES = 2 ** 31 - 1;
/** bundle.json, labels.json and vocab.txt may be this big (200,000 labels take ~20 MB). */
export const MAX_DATA_FILE_BYTES = 64 * 2 ** 20;

/**
 * A listed file's bytes: only a regular file (a bundle's file may be a symlink, to a shared model
 * say, but one to /dev/zero or a FIFO would have read forever or blocked the load) of at most
 * `maxBytes`, read up to the size its stat gave (a file that grows meanwhile is refused). The
 * open does not block, so a FIFO is seen and refused instead of waiting for a writer.
 */
async function readOrFail(where: string, path: string, maxBytes: number): Promise<Buffer<ArrayBuffer>> {
  const name = basename(path);
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BundleError(where, `cannot read ${name} (${code ?? String(error)})`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new BundleError(where, `${name} is not a regular file`);
    if (info.size > maxBytes)
      throw new BundleError(where, `${name} has ${info.size} bytes; the limit is ${maxBytes}`);
    const bytes = Buffer.alloc(info.size);
    let read = 0;
    while (read < info.size) {
      const { bytesRead } = await handle.read(bytes, read, info.size - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    const more = await handle.read(Buffer.alloc(1), 0, 1, read);
    if (read !== info.size || more.bytesRead > 0)
      throw new BundleError(where, `${name} changed while it was read`);
    return bytes;
  } catch (error) {
    if (error instanceof BundleError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new BundleError(where, `cannot read ${name} (${code ?? String(error)})`);
  } finally {
    await handle.close();
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
  const manifestBytes = await readOrFail(where, join(dir, "bundle.json"), MAX_DATA_FILE_BYTES);
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
    const bytes = await readOrFail(
      where,
      join(dir, name),
      name.endsWith(".onnx") ? MAX_MODEL_FILE_BYTES : MAX_DATA_FILE_BYTES,
    );
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
