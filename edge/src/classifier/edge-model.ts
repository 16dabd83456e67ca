/**
 * What the edge holds of a model bundle: the vocabulary (for the tokenizer), the label table, and
 * bundle.json (calibration, metrics, the sha256s to verify the upstream against). The default bundle
 * is embedded at build time and built once per isolate; other models are learnt from the upstream
 * at runtime (upstream/verify-model.ts).
 */

import { type BundleManifest, type Calibration, type Label, sha256Hex } from "@intentql/schema";
import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";
import { MASSIVE_INTENT_DOCS } from "../catalog/massive-intents.ts";
import type { IntentInfo } from "../graphql/builder.ts";

export interface EdgeBundleAssets {
  vocabText: string;
  labels: Label[];
  manifest: BundleManifest;
}

export interface EdgeModelOptions {
  /** Learnt at runtime: a smaller tokenizer cache, and no MASSIVE catalogue text for its labels. */
  learnt?: boolean;
}

/** The word cache of a learnt model's tokenizer (the embedded one keeps the tokenizer's 4 MiB default). */
const LEARNT_WORD_CACHE_BYTES = 1024 * 1024;

export class EdgeModel {
  readonly tokenizer: BertWordPieceTokenizer;
  readonly intents: readonly IntentInfo[];
  readonly intentsByName: ReadonlyMap<string, IntentInfo>;
  readonly calibration: Calibration;
  readonly maxLength: number;
  #vocabSha256: Promise<string> | undefined;

  constructor(
    readonly assets: EdgeBundleAssets,
    options: EdgeModelOptions = {},
  ) {
    this.tokenizer = new BertWordPieceTokenizer(
      parseVocabTxt(assets.vocabText),
      options.learnt ? { wordCacheBytes: LEARNT_WORD_CACHE_BYTES } : {},
    );
    this.intents = assets.labels.map((label) => toIntentInfo(label, !options.learnt));
    this.intentsByName = new Map(this.intents.map((i) => [i.name, i]));
    this.calibration = calibrationOf(assets.manifest);
    this.maxLength = assets.manifest.maxLength;
  }

  /** sha256 of the embedded vocab.txt bytes, computed with WebCrypto (once). */
  vocabSha256(): Promise<string> {
    this.#vocabSha256 ??= sha256Hex(this.assets.vocabText);
    return this.#vocabSha256;
  }
}

export function toIntentInfo(label: Label, massiveCatalogue = true): IntentInfo {
  const doc = massiveCatalogue ? MASSIVE_INTENT_DOCS[label.name] : undefined;
  return {
    id: label.id,
    name: label.name,
    scenario: label.scenario,
    action: label.action,
    description: doc?.description ?? `${label.scenario}: ${label.action.replaceAll("_", " ")}`,
    examples: doc?.examples ?? [],
  };
}

/** The smallest calibration temperature a bundle may have (logits / T must stay finite). */
export const MIN_TEMPERATURE = 1e-3;

/**
 * A bundle without calibration gets temperature 1 and no out-of-scope flag (threshold 0). Values
 * that would make every score NaN or every answer out of scope (T < MIN_TEMPERATURE, T not finite,
 * a threshold outside [0, 1]) are refused: the caller reports the bundle as not matching.
 */
export function calibrationOf(manifest: Partial<Pick<BundleManifest, "calibration">>): Calibration {
  const temperature: unknown = manifest.calibration?.temperature ?? 1;
  const threshold: unknown = manifest.calibration?.outOfScope?.threshold ?? 0;
  // At least MIN_TEMPERATURE: a positive T as small as 1e-310 passed, and logits / T overflowed to
  // ±Infinity, every probability NaN. Fitted temperatures are near 1 (1.1.0: 0.67).
  if (typeof temperature !== "number" || !Number.isFinite(temperature) || temperature < MIN_TEMPERATURE)
    throw new RangeError(
      `calibration temperature ${String(temperature)} is not a number ≥ ${MIN_TEMPERATURE}`,
    );
  if (typeof threshold !== "number" || !Number.isFinite(threshold) || threshold < 0 || threshold > 1)
    throw new RangeError(`out-of-scope threshold ${String(threshold)} is not in [0, 1]`);
  return { temperature, outOfScopeThreshold: threshold };
}
