/**
 * What the edge knows of each upstream model, settled at its first use per isolate. A model whose
 * vocabulary (by sha256) and label table equal the embedded bundle's is served with the embedded
 * tokenizer and intents (no fetch for the default model). Any other model served by gpu-service is
 * learnt at runtime: its vocab.txt, labels and bundle.json come from the upstream's bundle extension,
 * the vocabulary is checked against bundle.json's sha256 and the labels against its count, and the
 * edge tokenizes and labels that model's answers with them, so a newly trained model is classifiable
 * with no Worker rebuild. Triton serves no bundle: there, only models equal to the embedded one are
 * served, and anything else is MODEL_MISMATCH, as token ids and logit columns would mean different
 * things on each side.
 */
import {
  type BundleManifest,
  type Calibration,
  type Label,
  sha256Hex,
  validateLabels,
  validateManifest,
} from "@intentql/schema";
import { calibrationOf, EdgeModel } from "../classifier/edge-model.ts";
import { ErrorCode } from "../graphql/errors.ts";
import { modelMismatch, unknownModel } from "./errors.ts";
import type { V2Client } from "./v2-client.ts";

export interface VerifiedModel {
  name: string;
  version: string;
  /** The upstream bundle's own calibration: it belongs to the weights that answer. */
  calibration: Calibration;
  labelCount: number;
  /** Tokenizer, intents and maximum length to serve it with: the embedded bundle's, or the learnt one's. */
  model: EdgeModel;
  /** True when the model was learnt from the upstream rather than embedded. */
  learnt: boolean;
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

/**
 * What one learnt model's vocab may hold in an isolate: bert-base-uncased's vocab.txt is 232 k
 * characters, multilingual BERT's under 1 M. Four learnt vocabs at the earlier 4 Mi-character cap
 * added ~103 MB to an isolate of 128 MB (session 15's attack pass: ~26 MB each as tokenizer tables).
 * Its labels are bounded by validateManifest (MAX_LABELS).
 */
export const MAX_LEARNT_VOCAB_CHARS = 1024 * 1024;

export interface ModelVerifierOptions {
  /** How long a failed check is remembered before the next request tries again. Default 5,000 ms. */
  failureTtlMs?: number;
  /** How long the upstream's model list is trusted. Default 60,000 ms. */
  catalogTtlMs?: number;
  /** Verified models kept per isolate (the rest are checked again). Default 64. */
  maxModels?: number;
  /**
   * Learnt models kept per isolate, each with its own tokenizer (vocabulary and bounded caches); the
   * least recently learnt is dropped beyond this. Default 4.
   */
  maxLearntModels?: number;
  now?: () => number;
}

interface Catalog {
  /** Null when the upstream has no model list (Triton): every name is checked on its own. */
  names: ReadonlySet<string> | null;
  expires: number;
  fetched: number;
}

/**
 * Verifies each upstream model once per isolate. Work an attacker can cause is bounded: the
 * upstream's model list is fetched once per minute, and again at most once per failure TTL when a
 * name is missing from it (a model loaded since); a name not on it is refused with UNKNOWN_MODEL;
 * failed checks are remembered for a few seconds, so a flood of requests naming a broken model or
 * random names costs one check per few seconds, not one per request.
 */
export class ModelVerifier {
  readonly #verified = new Map<string, { pending: Promise<VerifiedModel>; expires: number }>();
  readonly #failureTtlMs: number;
  readonly #catalogTtlMs: number;
  readonly #maxModels: number;
  readonly #maxLearntModels: number;
  readonly #learnt: string[] = [];
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
    this.#maxLearntModels = options.maxLearntModels ?? 4;
    this.#now = options.now ?? (() => Date.now());
  }

  /** Drops what is known of a model (it changed upstream): the next request verifies or learns it again. */
  forget(model: string): void {
    this.#verified.delete(model);
    this.#catalog = undefined; // and the model list: it may have come or gone
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
    let catalog = this.#catalog;
    if (catalog) {
      const current = await catalog;
      const now = this.#now();
      // A name missing from a list older than the failure TTL may be a model loaded since: the list
      // is fetched again, at most once per failure TTL whatever the names asked for.
      const stale =
        current.names !== null && !current.names.has(model) && now - current.fetched >= this.#failureTtlMs;
      // Calls waiting on the same list resume one after another: the first refreshes, the rest use it.
      if (this.#catalog !== catalog) catalog = this.#catalog;
      else if (current.expires <= now || stale) catalog = undefined;
    }
    if (!catalog) {
      // Triton has no model list (null): names are then checked one by one. A failed listing (the
      // upstream down) is retried after the short failure TTL.
      catalog = this.client.modelNames().then(
        (names) => ({
          names: names && new Set(names),
          expires: this.#now() + this.#catalogTtlMs,
          fetched: this.#now(),
        }),
        () => ({ names: null, expires: this.#now() + this.#failureTtlMs, fetched: this.#now() }),
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
    if (problem) return this.#learn(model, manifest, labels, problem);
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
      model: this.edge,
      learnt: false,
    };
  }

  /** A model other than the embedded one: its bundle, checked, becomes this isolate's copy of it. */
  async #learn(model: string, raw: unknown, rawLabels: unknown, difference: string): Promise<VerifiedModel> {
    let learnt: EdgeModel;
    try {
      const manifest = validateManifest(model, raw);
      if (manifest.tokenizer.lowercase === false)
        throw new Error("its tokenizer is cased; the edge lowercases");
      const labels = validateLabels(model, rawLabels, manifest.labels.count);
      const vocabText = await this.client.vocabText(model).catch((error: unknown) => {
        // An upstream without the vocab route (an older gpu-service) cannot teach the edge this model.
        if ((error as { extensions?: { code?: string } }).extensions?.code === ErrorCode.UNKNOWN_MODEL)
          throw new Error("the upstream serves no vocab.txt to learn it from");
        throw error;
      });
      if (vocabText.length > MAX_LEARNT_VOCAB_CHARS)
        throw new Error(
          `its vocab.txt has ${vocabText.length} characters; a learnt model may have ${MAX_LEARNT_VOCAB_CHARS}`,
        );
      const sha = await sha256Hex(vocabText);
      if (sha !== manifest.tokenizer.vocabSha256)
        throw new Error(
          `its vocab.txt has sha256 ${sha.slice(0, 12)}…, its bundle.json says ${manifest.tokenizer.vocabSha256.slice(0, 12)}…`,
        );
      learnt = new EdgeModel({ vocabText, labels, manifest }, { learnt: true });
    } catch (error) {
      if ((error as { extensions?: unknown }).extensions !== undefined) throw error; // upstream errors keep their code
      throw modelMismatch(model, `${difference}, and it cannot be learnt: ${(error as Error).message}`);
    }
    // Memory per isolate stays bounded: the least recently learnt model is forgotten (and learnt again
    // if it is asked for).
    this.#learnt.splice(0, this.#learnt.length, ...this.#learnt.filter((m) => m !== model), model);
    while (this.#learnt.length > this.#maxLearntModels) this.#verified.delete(this.#learnt.shift()!);
    return {
      name: model,
      version: learnt.assets.manifest.version,
      calibration: learnt.calibration,
      labelCount: learnt.intents.length,
      model: learnt,
      learnt: true,
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
      model: this.edge,
      learnt: false,
    };
  }
}
