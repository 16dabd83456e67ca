/**
 * Consistency check, at first use of each upstream model per isolate: the upstream's vocabulary
 * (by sha256) and label table must equal the edge's, or token ids and logit columns would mean
 * different things on each side and every answer would be silently wrong.
 */
import type { BundleManifest, Calibration, Label } from "@intentql/schema";
import { calibrationOf, type EdgeModel } from "../classifier/edge-model.ts";
import { ErrorCode } from "../graphql/errors.ts";
import { modelMismatch, unknownModel } from "./errors.ts";
import type { V2Client } from "./v2-client.ts";

export interface VerifiedModel {
  name: string;
  version: string;
  /** The upstream bundle's own calibration: it belongs to the weights that answer. */
  calibration: Calibration;
  labelCount: number;
}

/** Pure comparison; returns what differs, or null when the upstream matches. */
export function describeMismatch(
  edge: { vocabSha256: string; labels: readonly Label[]; maxLength: number },
  upstream: { manifest: Partial<BundleManifest>; labels: unknown },
): string | null {
  const upstreamSha = upstream.manifest.tokenizer?.vocabSha256;
  if (upstreamSha !== edge.vocabSha256)
    return `vocab sha256 ${String(upstreamSha).slice(0, 12)}… ≠ edge ${edge.vocabSha256.slice(0, 12)}…`;
  if (upstream.manifest.tokenizer?.lowercase === false)
    return "upstream tokenizer is cased; the edge lowercases";
  if (upstream.manifest.maxLength !== undefined && upstream.manifest.maxLength < edge.maxLength)
    return `upstream maxLength ${upstream.manifest.maxLength} < edge ${edge.maxLength}`;
  if (!Array.isArray(upstream.labels)) return "upstream labels.json is not an array";
  const theirs = upstream.labels as Partial<Label>[];
  if (theirs.length !== edge.labels.length)
    return `upstream has ${theirs.length} labels, edge ${edge.labels.length}`;
  for (const [i, label] of edge.labels.entries()) {
    const other = theirs[i];
    if (other?.id !== label.id || other.name !== label.name)
      return `label ${i} is "${String(other?.name)}" upstream, "${label.name}" at the edge`;
  }
  return null;
}

/** config.pbtxt `parameters` that name the bundle an upstream without the bundle extension serves. */
export const TRITON_VOCAB_PARAM = "intentql_vocab_sha256";
export const TRITON_LABELS_PARAM = "intentql_labels_sha256";

/**
 * The same check against Triton, which serves no bundle.json: its model config must carry the
 * bundle's vocab and labels sha256 as parameters (infra/triton/<model>/config.pbtxt), and its
 * logits must be as wide as the label table.
 */
export function describeConfigMismatch(
  edge: { vocabSha256: string; labelsSha256: string; labelCount: number },
  config: unknown,
): string | null {
  const c = (config ?? {}) as {
    parameters?: Record<string, { string_value?: string }>;
    output?: { name?: string; dims?: (number | string)[] }[];
  };
  const vocab = c.parameters?.[TRITON_VOCAB_PARAM]?.string_value;
  const labels = c.parameters?.[TRITON_LABELS_PARAM]?.string_value;
  if (!vocab || !labels)
    return `the upstream serves no bundle.json and its model config lacks the ${TRITON_VOCAB_PARAM} and ${TRITON_LABELS_PARAM} parameters`;
  if (vocab !== edge.vocabSha256)
    return `vocab sha256 ${vocab.slice(0, 12)}… ≠ edge ${edge.vocabSha256.slice(0, 12)}…`;
  if (labels !== edge.labelsSha256)
    return `labels sha256 ${labels.slice(0, 12)}… ≠ edge ${edge.labelsSha256.slice(0, 12)}…`;
  const logits = c.output?.find((o) => o.name === "logits");
  const width = Number(logits?.dims?.at(-1));
  if (logits && width !== edge.labelCount)
    return `upstream logits have ${width} columns, edge ${edge.labelCount} labels`;
  return null;
}

export interface ModelVerifierOptions {
  /** How long a failed check is remembered before the next request tries again. Default 5,000 ms. */
  failureTtlMs?: number;
  /** How long the upstream's model list is trusted. Default 60,000 ms. */
  catalogTtlMs?: number;
  /** Verified models kept per isolate (the rest are checked again). Default 64. */
  maxModels?: number;
  now?: () => number;
}

interface Catalog {
  /** Null when the upstream has no model list (Triton): every name is checked on its own. */
  names: ReadonlySet<string> | null;
  expires: number;
}

/**
 * Verifies each upstream model once per isolate. Work an attacker can cause is bounded: the
 * upstream's model list is fetched once per minute and a name not on it is refused with
 * UNKNOWN_MODEL without any upstream call; failed checks are remembered for a few seconds, so a
 * flood of requests naming a broken model costs one check, not one per request.
 */
export class ModelVerifier {
  readonly #verified = new Map<string, { pending: Promise<VerifiedModel>; expires: number }>();
  readonly #failureTtlMs: number;
  readonly #catalogTtlMs: number;
  readonly #maxModels: number;
  readonly #now: () => number;
  #catalog: Promise<Catalog> | undefined;

  constructor(
    private readonly edge: EdgeModel,
    private readonly client: V2Client,
    options: ModelVerifierOptions = {},
  ) {
    this.#failureTtlMs = options.failureTtlMs ?? 5_000;
    this.#catalogTtlMs = options.catalogTtlMs ?? 60_000;
    this.#maxModels = options.maxModels ?? 64;
    this.#now = options.now ?? (() => Date.now());
  }

  verify(model: string): Promise<VerifiedModel> {
    const now = this.#now();
    const cached = this.#verified.get(model);
    if (cached && cached.expires > now) return cached.pending;
    const entry = {
      pending: this.#listed(model).then(() => this.#check(model)),
      expires: Number.POSITIVE_INFINITY,
    };
    if (this.#verified.size >= this.#maxModels) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(model, entry);
    entry.pending.catch(() => {
      entry.expires = this.#now() + this.#failureTtlMs;
    });
    return entry.pending;
  }

  /** Refuses a name the upstream's model list lacks, with no call of its own once the list is known. */
  async #listed(model: string): Promise<void> {
    const now = this.#now();
    let catalog = this.#catalog;
    if (!catalog || (await catalog).expires <= now) {
      // Triton has no model list (null): names are then checked one by one. A failed listing (the
      // upstream down) is retried after the short failure TTL.
      catalog = this.client.modelNames().then(
        (names) => ({ names: names && new Set(names), expires: this.#now() + this.#catalogTtlMs }),
        () => ({ names: null, expires: this.#now() + this.#failureTtlMs }),
      );
      this.#catalog = catalog;
    }
    const { names } = await catalog;
    if (names && !names.has(model)) throw unknownModel(model);
  }

  async #check(model: string): Promise<VerifiedModel> {
    const vocabSha256 = await this.edge.vocabSha256();
    let manifest: Partial<BundleManifest>;
    let labels: unknown;
    try {
      [manifest, labels] = await Promise.all([
        this.client.bundleJson(model) as Promise<Partial<BundleManifest>>,
        this.client.labelsJson(model),
      ]);
    } catch (error) {
      // No bundle extension (Triton) answers 404 like an unknown model: its model config decides.
      if ((error as { extensions?: { code?: string } }).extensions?.code !== ErrorCode.UNKNOWN_MODEL)
        throw error;
      return this.#checkConfig(model, vocabSha256);
    }
    const problem = describeMismatch(
      { vocabSha256, labels: this.edge.assets.labels, maxLength: this.edge.maxLength },
      { manifest, labels },
    );
    if (problem) throw modelMismatch(model, problem);
    let calibration: Calibration;
    try {
      calibration = manifest.calibration ? calibrationOf(manifest) : this.edge.calibration;
    } catch (error) {
      throw modelMismatch(model, (error as Error).message);
    }
    return {
      name: model,
      version: String(manifest.version ?? ""),
      calibration,
      labelCount: this.edge.assets.labels.length,
    };
  }

  async #checkConfig(model: string, vocabSha256: string): Promise<VerifiedModel> {
    const config = await this.client.modelConfig(model);
    const problem = describeConfigMismatch(
      {
        vocabSha256,
        labelsSha256: this.edge.assets.manifest.labels.sha256,
        labelCount: this.edge.assets.labels.length,
      },
      config,
    );
    if (problem) throw modelMismatch(model, problem);
    return {
      name: model,
      // Triton configs carry no bundle version; calibration is the edge's own copy of the bundle's.
      version: "",
      calibration: this.edge.calibration,
      labelCount: this.edge.assets.labels.length,
    };
  }
}
