/**
 * Consistency check, at first use of each upstream model per isolate: the upstream's vocabulary
 * (by sha256) and label table must equal the edge's, or token ids and logit columns would mean
 * different things on each side and every answer would be silently wrong.
 */
import type { BundleManifest, Label } from "../../../schema/src/bundle.ts";
import { ErrorCode } from "../../../schema/src/graphql/errors.ts";
import type { Calibration } from "../classifier/calibrate.ts";
import { calibrationOf, type EdgeModel } from "../classifier/edge-model.ts";
import { modelMismatch } from "./errors.ts";
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

export class ModelVerifier {
  readonly #verified = new Map<string, Promise<VerifiedModel>>();

  constructor(
    private readonly edge: EdgeModel,
    private readonly client: V2Client,
  ) {}

  /** Cached per isolate once it succeeds; a failure is forgotten so the next request tries again. */
  verify(model: string): Promise<VerifiedModel> {
    let pending = this.#verified.get(model);
    if (!pending) {
      pending = this.#check(model);
      this.#verified.set(model, pending);
      pending.catch(() => this.#verified.delete(model));
    }
    return pending;
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
    return {
      name: model,
      version: String(manifest.version ?? ""),
      calibration: manifest.calibration ? calibrationOf(manifest) : this.edge.calibration,
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
