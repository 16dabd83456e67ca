/**
 * Consistency check, at first use of each upstream model per isolate: the upstream's vocabulary
 * (by sha256) and label table must equal the edge's, or token ids and logit columns would mean
 * different things on each side and every answer would be silently wrong.
 */
import type { BundleManifest, Label } from "../../../schema/src/bundle.ts";
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
    const [manifest, labels, vocabSha256] = await Promise.all([
      this.client.bundleJson(model) as Promise<Partial<BundleManifest>>,
      this.client.labelsJson(model),
      this.edge.vocabSha256(),
    ]);
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
}
