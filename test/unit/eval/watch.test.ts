/**
 * `evalRunProgress` polling stops when its client leaves (issue 11): the subscription's iterator is
 * closed by yoga (return()) or the request's signal aborts, and no D1 read follows, even while the
 * generator was sleeping between polls.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEvalService } from "../../../edge/src/eval/eval-service.ts";
import type { EvalService } from "../../../edge/src/graphql/eval-context.ts";
import { instrumentD1, startD1 } from "../../support/d1.ts";

let dispose: () => Promise<void>;
let service: EvalService;
let runId: string;
let reads = { count: 0 };

beforeAll(async () => {
  const d1 = await startD1();
  dispose = d1.dispose;
  const real = d1.db;
  // Counts the run lookups `watch` makes (the queries run on real D1).
  const counted = instrumentD1(real, "SELECT * FROM eval_runs WHERE id");
  reads = counted.state;
  const db = counted.db;
  service = createEvalService({
    db,
    labelsOf: async () => ["alarm_set", "alarm_remove"],
    resolveModel: async (name) => name ?? "massive-scratch",
    runner: { start: async () => {} }, // the run stays queued: watch would poll forever
    pollMs: 20,
  });
  const { dataset } = await service.importDataset({
    name: "tiny",
    content:
      '{"text":"wake me up","label_text":"alarm_set"}\n{"text":"cancel it","label_text":"alarm_remove"}\n',
  });
  runId = (await service.startRun({ dataset: dataset.id, split: "test", model: null, keyId: null })).id;
});
afterAll(async () => {
  await dispose?.();
});

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Whether `check` holds within `ms` (checked every 10 ms). */
async function within(ms: number, check: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await settle(10);
  return check();
}

describe("evalRunProgress polling", () => {
  it("polls while someone listens", async () => {
    const iterator = service.watch(runId)[Symbol.asyncIterator]();
    await iterator.next();
    const before = reads.count;
    const pending = iterator.next(); // nothing changes: it keeps polling
    try {
      // every 20 ms: four reads take ~80 ms on an idle machine, and 2 s leaves room for a loaded one
      expect(await within(2000, () => reads.count - before >= 4)).toBe(true);
    } finally {
      // closed even when the check fails, so that no poller outlives this test and miscounts the next
      await iterator.return?.();
      await pending;
    }
  });

  it("stops at once when the server closes the iterator mid-sleep (client gone)", async () => {
    const iterator = service.watch(runId)[Symbol.asyncIterator]();
    await iterator.next();
    const pending = iterator.next();
    await settle(30);
    const closed = await Promise.race([iterator.return!(), settle(500).then(() => "timeout")]);
    expect(closed).not.toBe("timeout");
    await pending;
    const after = reads.count;
    await settle(200);
    expect(reads.count).toBe(after);
  });

  it("stops when the request's signal aborts", async () => {
    const controller = new AbortController();
    const iterator = service.watch(runId, { signal: controller.signal })[Symbol.asyncIterator]();
    await iterator.next();
    const pending = iterator.next();
    await settle(30);
    controller.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    const after = reads.count;
    await settle(200);
    expect(reads.count).toBe(after);
  });

  it("ends with UNAUTHENTICATED once its key is no longer valid, and reads nothing after", async () => {
    let allowed = true;
    let ended = 0;
    const iterator = service
      .watch(runId, { stillAllowed: async () => allowed, onEnd: () => ended++ })
      [Symbol.asyncIterator]();
    await iterator.next();
    allowed = false;
    await expect(iterator.next()).rejects.toMatchObject({ extensions: { code: "UNAUTHENTICATED" } });
    const after = reads.count;
    await settle(200);
    expect(reads.count).toBe(after);
    expect(ended).toBe(1);
  });

  it("calls onEnd once however the stream ends: closed before it started, closed mid-sleep, aborted", async () => {
    let ended = 0;
    const onEnd = () => ended++;
    const unstarted = service.watch(runId, { onEnd })[Symbol.asyncIterator]();
    await unstarted.return?.();
    expect(ended).toBe(1);
    const closed = service.watch(runId, { onEnd })[Symbol.asyncIterator]();
    await closed.next();
    const pending = closed.next();
    await settle(30);
    await closed.return?.();
    await pending;
    expect(ended).toBe(2);
    const controller = new AbortController();
    const aborted = service.watch(runId, { signal: controller.signal, onEnd })[Symbol.asyncIterator]();
    await aborted.next();
    const waiting = aborted.next();
    controller.abort();
    await waiting;
    expect(ended).toBe(3);
  });
});
