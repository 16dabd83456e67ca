/**
 * The per-request DataLoader: every classify text of every field and alias of one GraphQL
 * operation is collected during one tick, de-duplicated (the cache key is model + text), tokenized
 * once, and sent as one binary V2 infer call per model — split into several calls only above
 * `maxBatch` rows, the upstream's batch limit.
 */

import { type Calibration, calibratedProbabilities } from "@intentql/schema";
import DataLoader from "dataloader";
import type { ResolvedModel } from "../classifier/model-aliases.ts";
import type { IntentInfo } from "../graphql/builder.ts";
import { modelMismatch } from "./errors.ts";
import type { V2Client } from "./v2-client.ts";
import type { ModelVerifier, VerifiedModel } from "./verify-model.ts";

export interface ClassifyKey {
  model: string;
  text: string;
}

export interface ClassifiedRow {
  model: string;
  /** The model's intents in logit order (the embedded bundle's, or a learnt model's). */
  intents: readonly IntentInfo[];
  /** Calibrated probabilities, one per label in logit order. */
  probabilities: Float64Array;
  calibration: Calibration;
  tokens: number;
  truncated: boolean;
}

export interface InferLoaderOptions {
  client: V2Client;
  verifier: ModelVerifier;
  /** Rows per upstream call; more texts than this are split into several calls (sent concurrently). */
  maxBatch: number;
  /** Model aliases: a requested name → the served model (and the version an alias pins). Default: none. */
  resolve?: (name: string) => Promise<ResolvedModel>;
  /** Runs once before a batch goes upstream; a throw refuses every row of it (limits, quotas). */
  beforeDispatch?: () => Promise<void>;
}

export type InferLoader = DataLoader<ClassifyKey, ClassifiedRow, string>;

export function createInferLoader(options: InferLoaderOptions): InferLoader {
  return new DataLoader<ClassifyKey, ClassifiedRow, string>((keys) => loadBatch(options, keys), {
    cacheKeyFn: (key) => `${key.model}\u0000${key.text}`,
  });
}

async function loadBatch(
  { client, verifier, maxBatch, resolve, beforeDispatch }: InferLoaderOptions,
  keys: readonly ClassifyKey[],
): Promise<(ClassifiedRow | Error)[]> {
  if (beforeDispatch) {
    try {
      await beforeDispatch();
    } catch (error) {
      return keys.map(() => error as Error);
    }
  }
  const byModel = new Map<string, number[]>();
  for (const [i, key] of keys.entries()) {
    const group = byModel.get(key.model);
    if (group) group.push(i);
    else byModel.set(key.model, [i]);
  }
  const out: (ClassifiedRow | Error)[] = new Array(keys.length);
  await Promise.all(
    [...byModel].map(async ([requested, indices]) => {
      let model = requested;
      let pinned: ResolvedModel | undefined;
      try {
        if (resolve) {
          pinned = await resolve(requested);
          model = pinned.model;
        }
        try {
          await classifyGroup(await verifier.verify(model));
        } catch (error) {
          if (!(error instanceof VersionChanged)) throw error;
          // The upstream reloaded the model (another version): learn it again, and answer once more.
          verifier.forget(model);
          try {
            await classifyGroup(await verifier.verify(model));
          } catch (again) {
            if (!(again instanceof VersionChanged)) throw again;
            throw modelMismatch(model, again.message);
          }
        }
      } catch (error) {
        for (const i of indices) out[i] = error as Error;
      }

      async function classifyGroup(verified: VerifiedModel): Promise<void> {
        if (pinned?.version !== undefined && pinned.version !== verified.version)
          throw modelMismatch(
            requested,
            `alias "${pinned.alias}" pins ${model}@${pinned.version}, the upstream serves ${model}@${verified.version}: set the alias again or load that version`,
          );
        const chunks: number[][] = [];
        for (let start = 0; start < indices.length; start += maxBatch)
          chunks.push(indices.slice(start, start + maxBatch));
        await Promise.all(
          chunks.map(async (chunk) => {
            // Each model's own tokenizer: a learnt model may have another vocabulary.
            const encoded = verified.model.tokenizer.encodeBatch(
              chunk.map((i) => keys[i]!.text),
              verified.model.maxLength,
            );
            const logits = await client.infer(model, encoded);
            if (
              verified.version !== "" &&
              logits.version !== undefined &&
              logits.version !== verified.version
            )
              throw new VersionChanged(
                `answered as version ${logits.version}, but its bundle.json says ${verified.version}`,
              );
            if (logits.width !== verified.labelCount)
              throw modelMismatch(model, `${logits.width} logits per row, ${verified.labelCount} labels`);
            chunk.forEach((keyIndex, row) => {
              out[keyIndex] = {
                model,
                intents: verified.model.intents,
                probabilities: calibratedProbabilities(
                  logits.data.subarray(row * logits.width, (row + 1) * logits.width),
                  verified.calibration.temperature,
                ),
                calibration: verified.calibration,
                tokens: encoded.lengths[row]!,
                truncated: encoded.truncated[row]!,
              };
            });
          }),
        );
      }
    }),
  );
  return out;
}

/** An answer from another version of the model than the one verified. */
class VersionChanged extends Error {}
