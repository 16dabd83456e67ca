import type { D1Database } from "@cloudflare/workers-types";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  DatasetImportError,
  getDataset,
  importDataset,
  listDatasets,
} from "../../../edge/src/eval/dataset-store.ts";
import {
  cancelRun,
  compareRuns,
  createRun,
  getRun,
  misclassified,
  pendingRows,
  type StoredMetrics,
} from "../../../edge/src/eval/eval-run-store.ts";
import { type ClassifiedText, runSlice } from "../../../edge/src/eval/eval-runner.ts";
import {
  createEvalService,
  datasetByIdLoader,
  type EvalServiceOptions,
} from "../../../edge/src/eval/eval-service.ts";
import { startD1 } from "../../support/d1.ts";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const LABELS = [
  { name: "alarm_set", scenario: "alarm" },
  { name: "alarm_remove", scenario: "alarm" },
  { name: "play_music", scenario: "play" },
];

let db: D1Database;
let dispose: () => Promise<void>;
beforeAll(async () => {
  ({ db, dispose } = await startD1());
});
afterAll(async () => {
  await dispose();
});
beforeEach(async () => {
  for (const t of ["predictions", "eval_runs", "dataset_rows", "datasets"])
    await db.prepare(`DELETE FROM ${t}`).run();
});

const official = (rows: [string, string, string][]) =>
  rows
    .map(([partition, intent, utt], i) => JSON.stringify({ id: String(i), partition, intent, utt }))
    .join("\n");

/** n texts "text i"; gold cycles through the labels. */
function textLabelFile(n: number): string {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({ text: `text ${i}`, label_text: LABELS[i % 3]!.name }),
  ).join("\n");
}

/** Counts calls and answers gold, except for every 4th text, which it calls play_music. */
function fakeClassifier(goldOf: (text: string) => string) {
  const calls: string[][] = [];
  return {
    calls,
    classify: async (texts: string[]): Promise<ClassifiedText[]> => {
      calls.push(texts);
      return texts.map((t) => {
        const i = Number(t.split(" ")[1]);
        return { label: i % 4 === 0 ? "play_music" : goldOf(t), score: 0.9, outOfScope: false };
      });
    },
  };
}
const goldOf = (t: string) => LABELS[Number(t.split(" ")[1]) % 3]!.name;

describe("importDataset", () => {
  it("imports MASSIVE official JSONL by partition, and is idempotent by content", async () => {
    const content = official([
      ["train", "alarm_set", "wake me up"],
      ["test", "alarm_remove", "cancel my alarm"],
      ["test", "play_music", "play some jazz"],
      ["dev", "alarm_set", "set an alarm"],
    ]);
    const a = await importDataset(db, { name: "massive", content });
    expect(a.created).toBe(true);
    expect(a.dataset.splits).toEqual({ train: 1, test: 2, dev: 1 });
    const again = await importDataset(db, { name: "another name", content: `${content}\n\n` });
    expect(again).toMatchObject({ created: false, dataset: { id: a.dataset.id, name: "massive" } });
    const rows = await db.prepare("SELECT COUNT(*) AS n FROM dataset_rows").first<{ n: number }>();
    expect(rows?.n).toBe(4);
    const onlyTest = await importDataset(db, { name: "massive-test", content, split: "test" });
    expect(onlyTest.dataset.splits).toEqual({ test: 2 });
    expect(onlyTest.dataset.id).not.toBe(a.dataset.id);
  });

  it("refuses a file with bad rows, names their lines, and writes nothing", async () => {
    const content = [
      JSON.stringify({ text: "ok", label_text: "alarm_set" }),
      "{oops",
      JSON.stringify({ text: "who", label_text: "weather_query" }),
      JSON.stringify({ text: "   ", label_text: "alarm_set" }),
    ].join("\n");
    const error = await importDataset(db, { name: "bad", content }).catch((e) => e);
    expect(error).toBeInstanceOf(DatasetImportError);
    // Labels belong to no model at import (a run checks them against its model): line 3 is fine.
    expect(error.rowErrors.map((e: { line: number }) => e.line)).toEqual([2, 4]);
    expect(error.message).toMatch(
      /2 bad row\(s\), nothing imported: line 2: not valid JSON; line 4: the text is missing or empty/,
    );
    const n = await db
      .prepare("SELECT (SELECT COUNT(*) FROM datasets) + (SELECT COUNT(*) FROM dataset_rows) AS n")
      .first<{ n: number }>();
    expect(n?.n).toBe(0);
  });

  it("refuses labels and partitions over 100 characters and more than 16 partitions; names a missing split briefly", async () => {
    const long = "x".repeat(101);
    await expect(
      importDataset(db, { name: "long-label", content: JSON.stringify({ text: "hi", label_text: long }) }),
    ).rejects.toThrow(/line 1: the label is longer than 100 characters/);
    await expect(
      importDataset(db, {
        name: "bidi-label",
        content: JSON.stringify({ text: "hi", label_text: "a\u202eb" }),
      }),
    ).rejects.toThrow(/line 1: the label holds a control, bidirectional or invisible formatting character/);
    await expect(
      importDataset(db, {
        name: "long-part",
        content: official([["test", "alarm_set", "wake me up"]]).replace('"test"', `"${long}"`),
      }),
    ).rejects.toThrow(/longer than 100 characters/);
    await expect(
      importDataset(db, { name: "long-split", content: textLabelFile(1), split: long }),
    ).rejects.toThrow(/at most 100 characters/);
    const manyParts = (n: number) =>
      Array.from({ length: n }, (_, i) =>
        JSON.stringify({ id: String(i), partition: `p${i}`, utt: `t ${i}`, intent: "alarm_set" }),
      ).join("\n");
    await expect(importDataset(db, { name: "parts17", content: manyParts(17) })).rejects.toThrow(
      /17 splits \(partitions\); at most 16/,
    );
    const { dataset } = await importDataset(db, { name: "parts12", content: manyParts(12) });
    const refusal = await evalService({})
      .startRun({ dataset: dataset.id, split: "y".repeat(500), model: null, keyId: "key_s" })
      .catch((e: Error) => e.message);
    expect(refusal).toMatch(/has no split "y{40}…" \(it has p0, p1, .*, … \(12 in all\)\)$/);
    expect(String(refusal).length).toBeLessThan(200);
  });

  it("imports a few thousand rows across several statements in one transaction", async () => {
    const { dataset } = await importDataset(db, { name: "big", content: textLabelFile(5000) });
    expect(dataset.splits).toEqual({ test: 5000 });
    const n = await db
      .prepare("SELECT COUNT(*) AS n, MAX(idx) AS m FROM dataset_rows")
      .first<{ n: number; m: number }>();
    expect(n).toEqual({ n: 5000, m: 4999 });
  });
});

/** A queued key-less run over a dataset of `n` texts (textLabelFile; the same n, the same dataset). */
async function newRun(n: number, name = `d${n}`) {
  const { dataset } = await importDataset(db, { name, content: textLabelFile(n) });
  return (await createRun(db, {
    datasetId: dataset.id,
    split: "test",
    model: "massive-scratch",
    total: n,
    keyId: null,
  }))!;
}

describe("eval runs", () => {
  it("classifies every row once, in chunks, and stores metrics", async () => {
    const run = await newRun(250);
    const fake = fakeClassifier(goldOf);
    const outcome = await runSlice({ db, classify: fake.classify, labelsOf: async () => LABELS }, run.id, {
      chunkSize: 64,
      budgetMs: 60_000,
    });
    expect(outcome).toBe("finished");
    expect(fake.calls.map((c) => c.length)).toEqual([64, 64, 64, 58]);
    const done = (await getRun(db, run.id))!;
    expect(done).toMatchObject({ status: "succeeded", done: 250, total: 250 });
    // every 4th text is wrong (unless its gold is play_music: i % 4 == 0 and i % 3 == 2)
    const wrong = Array.from({ length: 250 }, (_, i) => i).filter((i) => i % 4 === 0 && i % 3 !== 2).length;
    expect(done.metrics!.accuracy).toBeCloseTo((250 - wrong) / 250, 12);
    expect(done.metrics!.confusion.flat().reduce((a, b) => a + b, 0)).toBe(250);
    expect(done.metrics!.textsPerSecond).toBeGreaterThan(0);
  });

  it("resumes after a crash between chunks with exactly n predictions, none twice", async () => {
    const run = await newRun(300);
    const fake = fakeClassifier(goldOf);
    const deps = { db, classify: fake.classify, labelsOf: async () => LABELS };
    const crash = await runSlice(deps, run.id, {
      chunkSize: 50,
      budgetMs: 60_000,
      afterChunk: (done) => {
        if (done >= 100) throw new Error("worker killed");
      },
    }).catch((e) => e);
    expect(crash.message).toBe("worker killed");
    expect((await getRun(db, run.id))!).toMatchObject({ status: "running", done: 100 });
    expect(await runSlice(deps, run.id, { chunkSize: 50, budgetMs: 60_000 })).toBe("finished");
    const counts = await db
      .prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT idx) AS d FROM predictions WHERE run_id = ?")
      .bind(run.id)
      .first<{ n: number; d: number }>();
    expect(counts).toEqual({ n: 300, d: 300 });
    // 6 chunks in all: the two before the crash were not redone
    expect(fake.calls.flat()).toHaveLength(300);
  });

  it("a chunk whose write was lost is redone, and a replayed write cannot double-count", async () => {
    const run = await newRun(40);
    let failWrites = 1;
    const deps = {
      db: new Proxy(db, {
        get(target, prop, receiver) {
          if (prop === "batch" && failWrites > 0) {
            return async () => {
              failWrites--;
              throw new Error("D1_ERROR: injected write failure");
            };
          }
          const value = Reflect.get(target, prop, receiver);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }),
      classify: fakeClassifier(goldOf).classify,
      labelsOf: async () => LABELS,
    };
    await expect(runSlice(deps, run.id, { chunkSize: 16, budgetMs: 60_000 })).rejects.toThrow(
      /injected write failure/,
    );
    expect((await getRun(db, run.id))!.done).toBe(0);
    expect(await runSlice(deps, run.id, { chunkSize: 16, budgetMs: 60_000 })).toBe("finished");
    expect((await getRun(db, run.id))!).toMatchObject({ status: "succeeded", done: 40 });
  });

  it("stops at a slice budget and carries on in the next slice", async () => {
    const run = await newRun(100);
    const deps = { db, classify: fakeClassifier(goldOf).classify, labelsOf: async () => LABELS };
    expect(await runSlice(deps, run.id, { chunkSize: 10, budgetMs: 0 })).toBe("more");
    expect(await runSlice(deps, run.id, { chunkSize: 10, budgetMs: 60_000 })).toBe("finished");
  });

  it("cancel wins over a chunk in flight and ends the run", async () => {
    const run = await newRun(100);
    let first = true;
    const classify = async (texts: string[]) => {
      if (first) {
        first = false;
        expect(await cancelRun(db, run.id)).toBe(true);
      }
      return fakeClassifier(goldOf).classify(texts);
    };
    expect(
      await runSlice({ db, classify, labelsOf: async () => LABELS }, run.id, {
        chunkSize: 10,
        budgetMs: 60_000,
      }),
    ).toBe("ended");
    expect((await getRun(db, run.id))!).toMatchObject({ status: "cancelled", done: 0 });
    expect(await cancelRun(db, run.id)).toBe(false);
    expect(
      await runSlice({ db, classify, labelsOf: async () => LABELS }, run.id, {
        chunkSize: 10,
        budgetMs: 60_000,
      }),
    ).toBe("ended");
  });

  it("pages through misclassified predictions with cursors and an intent filter", async () => {
    const run = await newRun(60);
    await runSlice({ db, classify: fakeClassifier(goldOf).classify, labelsOf: async () => LABELS }, run.id, {
      chunkSize: 25,
      budgetMs: 60_000,
    });
    const fresh = (await getRun(db, run.id))!;
    const seen: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const p = await misclassified(db, fresh, { first: 4, after });
      seen.push(...p.edges.map((e) => e.node.idx));
      if (!p.hasNextPage) break;
      after = p.endCursor;
    }
    const expected = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 4 === 0 && i % 3 !== 2);
    expect(seen).toEqual(expected);
    const filtered = await misclassified(db, fresh, { first: 100, intent: "alarm_remove" });
    expect(
      filtered.edges.every((e) => e.node.gold === "alarm_remove" || e.node.predicted === "alarm_remove"),
    ).toBe(true);
    expect(filtered.edges.length).toBe(expected.filter((i) => i % 3 === 1).length);
    expect(filtered.edges[0]!.node.text).toBe("text 4");
    await expect(misclassified(db, fresh, { first: 5, after: btoa("x") })).rejects.toThrow(/invalid cursor/);
  });
});

/** The real D1, with every statement it prepares recorded (a fake only to count calls). */
function countingDb(): { counting: D1Database; statements: string[] } {
  const statements: string[] = [];
  const counting = new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare")
        return (query: string) => {
          statements.push(query);
          return target.prepare(query);
        };
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { counting, statements };
}

/** `db`, adding up the rows D1 says each statement's `all()` read. */
function measuringDb(): { measuring: D1Database; rowsRead: () => number } {
  let read = 0;
  const measuring = new Proxy(db, {
    get(target, prop) {
      if (prop !== "prepare") {
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (query: string) => ({
        bind: (...values: unknown[]) => ({
          all: async () => {
            const result = await target
              .prepare(query)
              .bind(...values)
              .all();
            read += result.meta.rows_read ?? 0;
            return result;
          },
        }),
      });
    },
  }) as D1Database;
  return { measuring, rowsRead: () => read };
}

describe("listing and finding datasets", () => {
  it("reads a page of the newest, one by its rows, or one by name, without a scan of the table", async () => {
    const made = [];
    for (let i = 0; i < 120; i++)
      made.push(
        (
          await importDataset(db, {
            name: `set ${i % 60}`,
            content: textLabelFile(1).replace("text 0", `only ${i}`),
          })
        ).dataset,
      );
    const { measuring, rowsRead } = measuringDb();
    const page = await listDatasets(measuring, 5);
    expect(page.map((d) => d.id)).toEqual(
      [...made]
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || 0)
        .slice(0, 5)
        .map((d) => d.id),
    );
    const bySha = await listDatasets(measuring, 50, made[17]!.sha256);
    expect(bySha.map((d) => d.id)).toEqual([made[17]!.id]);
    expect(await listDatasets(measuring, 50, "0".repeat(64))).toEqual([]);
    expect(rowsRead()).toBeLessThan(20);
    // by name: the newest of that name, through an index (migration 0008)
    expect((await getDataset(db, "set 7"))?.id).toBe(made[67]!.id);
    const { results } = await db
      .prepare(
        "EXPLAIN QUERY PLAN SELECT * FROM datasets WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC, created_at DESC LIMIT 1",
      )
      .bind("set 7")
      .all<{ detail: string }>();
    expect(results.map((r) => r.detail).join("; ")).not.toMatch(/SCAN datasets/);
  });
});

describe("a request's dataset reads (EvalRun.dataset)", () => {
  it("take one D1 query per 100 distinct ids, however many runs and aliases ask", async () => {
    const ids: string[] = [];
    for (const name of ["a", "b", "c"])
      ids.push((await importDataset(db, { name, content: textLabelFile(3 + ids.length) })).dataset.id);
    const { counting, statements } = countingDb();
    const load = datasetByIdLoader(counting);
    const gone = Array.from({ length: 150 }, (_, i) => `ds_gone${i}`);
    // 1,000 reads (a page of runs in many aliases) of 153 distinct ids
    const asked = Array.from({ length: 1_000 }, (_, i) => (i % 2 ? ids[i % 3]! : gone[(i / 2) % 150]!));
    const found = await Promise.all(asked.map(load));
    expect(statements).toHaveLength(2);
    found.forEach((d, i) => {
      if (asked[i]!.startsWith("ds_gone")) expect(d).toBeNull();
      else expect(d).toMatchObject({ id: asked[i], name: ["a", "b", "c"][ids.indexOf(asked[i]!)] });
    });
  });
});

describe("compareRuns", () => {
  it("gives per-intent F1 deltas, largest change first", () => {
    const m = (f1s: number[]) =>
      ({
        perLabel: f1s.map((f1, i) => ({ label: LABELS[i]!.name, f1, precision: 0, recall: 0, support: 10 })),
      }) as StoredMetrics;
    const d = compareRuns(m([0.5, 0.9, 0.7]), m([0.8, 0.85, 0.7]));
    expect(d.map((x) => x.intent)).toEqual(["alarm_set", "alarm_remove", "play_music"]);
    expect(d[0]!.delta).toBeCloseTo(0.3, 12);
    expect(d[1]!.delta).toBeCloseTo(-0.05, 12);
  });
});

/** The eval service on this file's D1, for models that know LABELS; runs stay queued unless `runner` says. */
const evalService = (options: Partial<EvalServiceOptions> = {}) =>
  createEvalService({
    db,
    labelsOf: async () => LABELS.map((l) => l.name),
    resolveModel: async (name) => name ?? "massive-scratch",
    runner: { start: async () => {} },
    ...options,
  });

describe("what one API key can start", () => {
  it("draws a run's texts from its key's quota, chunk by chunk, and pauses when it is spent", async () => {
    const { dataset } = await importDataset(db, { name: "paced", content: textLabelFile(100) });
    const run = (await createRun(db, {
      datasetId: dataset.id,
      split: "test",
      model: "massive-scratch",
      total: 100,
      keyId: "key_a",
    }))!;
    const fake = fakeClassifier(goldOf);
    let classified = 0;
    const charged: [string, number][] = [];
    let allowance = 50;
    const deps = {
      db,
      classify: async (texts: string[]) => {
        classified += texts.length;
        return fake.classify(texts);
      },
      labelsOf: async () => LABELS,
      async admit(keyId: string, texts: number) {
        charged.push([keyId, texts]);
        if (texts > allowance) return { ok: false, retryAfterSeconds: 3 };
        allowance -= texts;
        return { ok: true, retryAfterSeconds: 0 };
      },
    };
    expect(await runSlice(deps, run.id, { chunkSize: 20, budgetMs: 60_000 })).toEqual({ pausedForMs: 3000 });
    // two chunks of 20 admitted and classified; the third (20 > 10 left) asked for and not sent
    expect(charged).toEqual([
      ["key_a", 20],
      ["key_a", 20],
      ["key_a", 20],
    ]);
    expect(classified).toBe(40);
    expect((await getRun(db, run.id))!).toMatchObject({ status: "running", done: 40 });
    allowance = 1_000;
    expect(await runSlice(deps, run.id, { chunkSize: 20, budgetMs: 60_000 })).toBe("finished");
    expect(classified).toBe(100);
    expect((await getRun(db, run.id))!).toMatchObject({ status: "succeeded", done: 100 });
  });

  it("refuses a key's fifth run while four are queued or running, even when all start at once", async () => {
    const started: string[] = [];
    const service = evalService({ runner: { start: async (id) => void started.push(id) } });
    const { dataset } = await importDataset(db, { name: "many", content: textLabelFile(9) });
    const start = (keyId: string) =>
      service.startRun({ dataset: dataset.id, split: "test", model: null, keyId });
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => start("key_a")));
    const refused = outcomes.filter((o) => o.status === "rejected") as PromiseRejectedResult[];
    expect(outcomes.length - refused.length).toBe(4);
    for (const r of refused) expect(r.reason.extensions.code).toBe("RATE_LIMITED");
    expect(started).toHaveLength(4);
    // another key is not affected; a finished or cancelled run frees a place
    await expect(start("key_b")).resolves.toMatchObject({ keyId: "key_b", status: "queued" });
    await expect(start("key_a")).rejects.toMatchObject({ extensions: { code: "RATE_LIMITED" } });
    const mine = outcomes.find((o) => o.status === "fulfilled") as PromiseFulfilledResult<{ id: string }>;
    await service.cancelRun(mine.value.id);
    await expect(start("key_a")).resolves.toMatchObject({ keyId: "key_a" });
  });

  it("starts nothing for a key revoked while its start was under way, and ends a run whose key was revoked", async () => {
    await db.prepare("DELETE FROM api_keys WHERE id IN ('key_revoked', 'key_late')").run();
    await db
      .prepare(
        "INSERT INTO api_keys (id, key_hash, scopes, revoked_at) VALUES ('key_revoked', 'h1', 'eval', '2026-01-01T00:00:00Z'), ('key_late', 'h2', 'eval', NULL)",
      )
      .run();
    const service = evalService({});
    const { dataset } = await importDataset(db, { name: "revoked", content: textLabelFile(40) });
    // the request's key check passed before the revocation; the insert is where it is caught
    await expect(
      service.startRun({ dataset: dataset.id, split: "test", model: null, keyId: "key_revoked" }),
    ).rejects.toMatchObject({
      message: "the API key of this request was revoked",
      extensions: { code: "UNAUTHENTICATED" },
    });
    const none = await db
      .prepare("SELECT COUNT(*) AS n FROM eval_runs WHERE key_id = 'key_revoked'")
      .first<{ n: number }>();
    expect(none!.n).toBe(0);
    // a run that exists (started in an isolate that still trusted the key) ends at its next slice
    const run = (await createRun(db, {
      datasetId: dataset.id,
      split: "test",
      model: "massive-scratch",
      total: 40,
      keyId: "key_late",
    }))!;
    await db.prepare("UPDATE api_keys SET revoked_at = '2026-01-02T00:00:00Z' WHERE id = 'key_late'").run();
    const fake = fakeClassifier(goldOf);
    const deps = { db, classify: fake.classify, labelsOf: async () => LABELS };
    expect(await runSlice(deps, run.id, { chunkSize: 10, budgetMs: 60_000 })).toBe("ended");
    expect(fake.calls).toEqual([]); // nothing classified
    expect((await getRun(db, run.id))!).toMatchObject({
      status: "cancelled",
      error: "its API key was revoked",
    });
    await db.prepare("DELETE FROM api_keys WHERE id IN ('key_revoked', 'key_late')").run();
  });

  it("reads only the next chunk's rows however far a run has got (its done rows are a prefix)", async () => {
    const run = await newRun(600, "long");
    const deps = { db, classify: fakeClassifier(goldOf).classify, labelsOf: async () => LABELS };
    // one chunk of 500, then a crash
    await expect(
      runSlice(deps, run.id, {
        chunkSize: 500,
        budgetMs: 60_000,
        afterChunk: () => {
          throw new Error("stop after one chunk");
        },
      }),
    ).rejects.toThrow("stop after one chunk");
    // D1 reports the rows a statement read: the next 50 must not cost the 500 done before them
    const { measuring, rowsRead } = measuringDb();
    const next = await pendingRows(measuring, (await getRun(db, run.id))!, 50);
    expect(next.map((r) => r.idx)).toEqual(Array.from({ length: 50 }, (_, i) => 500 + i));
    expect(rowsRead()).toBeLessThan(200);
    expect(await runSlice(deps, run.id, { chunkSize: 50, budgetMs: 60_000 })).toBe("finished");
    expect((await getRun(db, run.id))!).toMatchObject({ status: "succeeded", done: 600 });
  });

  it("pages misclassified predictions by index: an accurate run or an intent nobody has costs no scan", async () => {
    const run = await newRun(600, "accurate");
    // right on every text but 597 and 598 (gold alarm_set and alarm_remove), taken for play_music
    const classify = async (texts: string[]) =>
      texts.map((t) => ({
        label: [597, 598].includes(Number(t.split(" ")[1])) ? "play_music" : goldOf(t),
        score: 0.9,
        outOfScope: false,
      }));
    await runSlice({ db, classify, labelsOf: async () => LABELS }, run.id, {
      chunkSize: 200,
      budgetMs: 60_000,
    });
    const done = (await getRun(db, run.id))!;
    const { measuring, rowsRead } = measuringDb();
    const all = await misclassified(measuring, done, { first: 1 });
    expect(all.edges.map((e) => e.node.idx)).toEqual([597]);
    expect(all.hasNextPage).toBe(true);
    const none = await misclassified(measuring, done, { first: 1, intent: "no_such_intent" });
    expect(none.edges).toEqual([]);
    const asPredicted = await misclassified(measuring, done, { first: 5, intent: "play_music" });
    expect(asPredicted.edges.map((e) => e.node.idx)).toEqual([597, 598]);
    expect(rowsRead()).toBeLessThan(50);
  });

  it("refuses a key's runs beyond so many an hour, cancelled ones included", async () => {
    const service = evalService({ maxRunsPerKeyPerHour: 3 });
    const { dataset } = await importDataset(db, { name: "hourly", content: textLabelFile(3) });
    const start = (keyId: string) =>
      service.startRun({ dataset: dataset.id, split: "test", model: null, keyId });
    for (let i = 0; i < 3; i++) await service.cancelRun((await start("key_h")).id);
    await expect(start("key_h")).rejects.toMatchObject({
      message: expect.stringMatching(/started 3 eval runs in the last hour/),
      extensions: { code: "RATE_LIMITED" },
    });
    await expect(start("key_i")).resolves.toMatchObject({ keyId: "key_i" });
    // an hour later the key may start again
    await db
      .prepare("UPDATE eval_runs SET created_at = '2000-01-01T00:00:00.000Z' WHERE key_id = 'key_h'")
      .run();
    await expect(start("key_h")).resolves.toMatchObject({ keyId: "key_h" });
  });

  it("refuses a key at its limit before anything else: one count, no scan of the split, no model lookup", async () => {
    const { counting, statements } = countingDb();
    let lookups = 0;
    const service = createEvalService({
      db: counting,
      labelsOf: async () => {
        lookups++;
        return LABELS.map((l) => l.name);
      },
      resolveModel: async (name) => {
        lookups++;
        return name ?? "massive-scratch";
      },
      runner: { start: async () => {} },
      maxRunsPerKeyPerHour: 2,
    });
    const { dataset } = await importDataset(db, { name: "scanned", content: textLabelFile(30) });
    const start = () => service.startRun({ dataset: dataset.id, split: "test", model: null, keyId: "key_r" });
    for (let i = 0; i < 2; i++) await service.cancelRun((await start()).id);
    expect(statements.some((s) => s.includes("DISTINCT label"))).toBe(true); // the starts that passed read it
    statements.length = 0;
    lookups = 0;
    await expect(start()).rejects.toMatchObject({ extensions: { code: "RATE_LIMITED" } });
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/COUNT\(\*\)/);
    expect(lookups).toBe(0);
  });

  it("treats a split named like an Object property as absent", async () => {
    const service = evalService();
    const { dataset } = await importDataset(db, { name: "proto", content: textLabelFile(3) });
    for (const split of ["constructor", "__proto__", "toString", "hasOwnProperty"])
      await expect(
        service.startRun({ dataset: dataset.id, split, model: null, keyId: "k" }),
      ).rejects.toMatchObject({
        extensions: { code: "BAD_USER_INPUT" },
      });
    const { results } = await db.prepare("SELECT id FROM eval_runs").all();
    expect(results).toHaveLength(0);
  });
});
