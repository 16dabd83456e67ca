/**
 * The EvalRunner Durable Object: one per run, it drives `runSlice` from alarms. Alarms are durable
 * (they survive the Worker being killed and restarted) and each invocation does a bounded slice, so
 * a 3,000-text run never meets the Worker's per-invocation limits. All progress lives in D1; the
 * object itself only remembers which run it drives and how often it has failed in a row.
 */
import { DurableObject } from "cloudflare:workers";
import { type Classifier, createClassifier } from "../app.ts";
import { classifierOptionsFromEnv } from "../config.ts";
import type { Env } from "../env.ts";
import { type RateLimiter, TEXT_QUOTA_DEFAULTS } from "../limits/rate-limiter.ts";
import { durableTextQuota } from "../limits/text-quota-client.ts";
import { positiveNumber } from "../settings.ts";
import { failRun } from "./eval-run-store.ts";
import { runSlice } from "./eval-runner.ts";

/** Defaults; EVAL_SLICE_MS and EVAL_CHUNK_TEXTS (wrangler vars) override them. */
const SLICE_MS = 15_000;
const CHUNK_TEXTS = 128;
/** Consecutive failed slices (upstream down, D1 errors) before the run is marked failed: ~5 minutes. */
const MAX_FAILURES = 30;

export class EvalRunnerObject extends DurableObject<Env> {
  // Built on first use and kept for the object's life: the tokenizer and the verified model survive
  // from one alarm to the next instead of being rebuilt each time.
  #classifier: Classifier | undefined;
  // The same texts-per-key quota the API's classify draws from (TEXT_QUOTA, one object per key).
  #textsPerKey: RateLimiter | undefined;

  async start(runId: string): Promise<void> {
    await this.ctx.storage.put("runId", runId);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
  }

  override async alarm(): Promise<void> {
    const runId = await this.ctx.storage.get<string>("runId");
    if (!runId) return;
    try {
      this.#classifier ??= createClassifier(classifierOptionsFromEnv(this.env));
      this.#textsPerKey ??= durableTextQuota(this.env.TEXT_QUOTA);
      const { classifyForEval, intentsOf } = this.#classifier;
      const quota = this.#textsPerKey;
      const outcome = await runSlice(
        {
          db: this.env.DB,
          classify: classifyForEval,
          labelsOf: intentsOf,
          admit: (keyId, texts) => quota.limit(keyId, texts),
        },
        runId,
        {
          // a chunk larger than the key's burst could never be admitted
          chunkSize: Math.min(
            positiveNumber(this.env.EVAL_CHUNK_TEXTS, CHUNK_TEXTS),
            positiveNumber(this.env.TEXT_QUOTA_BURST, TEXT_QUOTA_DEFAULTS.burst),
          ),
          budgetMs: positiveNumber(this.env.EVAL_SLICE_MS, SLICE_MS),
        },
      );
      await this.ctx.storage.put("failures", 0);
      if (outcome === "more") await this.ctx.storage.setAlarm(Date.now());
      else if (typeof outcome === "object") await this.ctx.storage.setAlarm(Date.now() + outcome.pausedForMs);
    } catch (error) {
      const failures = ((await this.ctx.storage.get<number>("failures")) ?? 0) + 1;
      await this.ctx.storage.put("failures", failures);
      const message = error instanceof Error ? error.message : String(error);
      console.error(JSON.stringify({ event: "eval_slice_failed", runId, failures, error: message }));
      if (failures >= MAX_FAILURES)
        await failRun(this.env.DB, runId, `gave up after ${failures} failed attempts: ${message}`);
      else await this.ctx.storage.setAlarm(Date.now() + Math.min(10_000, 500 * 2 ** failures));
    }
  }
}
