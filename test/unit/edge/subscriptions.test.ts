/**
 * Subscriptions (evalRunProgress over SSE), in-process: a key holds at most so many open at once in
 * an isolate (limits/subscription-gate.ts) and, with leases, across isolates
 * (limits/subscription-leases.ts); a closed one frees its place, and a key revoked while its stream
 * is open ends the stream (it polled D1 until its run ended before).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SubscriptionGate } from "../../../edge/src/limits/subscription-gate.ts";
import {
  type LeaseStore,
  LeaseTable,
  memorySubscriptionLeases,
  subscriptionLeases,
} from "../../../edge/src/limits/subscription-leases.ts";
import { createKey, startTestEdge, type TestEdge } from "../../support/edge-app.ts";
import { type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";
import { openSse } from "../../support/sse-stream.ts";

let upstream: FakeUpstream;
let t: TestEdge;
let runId: string;
let clockSkew = 0;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  // the runner never starts the run: it stays queued, so its subscriptions stay open
  t = await startTestEdge(upstream.url, {
    evalRunner: { start: async () => {} },
    subscriptionLimits: { maxPerKey: 2, maxTotal: 3 },
    // the Worker's lease logic over in-memory tables, on a clock the lapse test moves
    subscriptionLeases: memorySubscriptionLeases({ now: () => Date.now() + clockSkew }),
  });
  const imported = await t.gql(
    'mutation { importDataset(input: { name: "subs", content: "{\\"text\\":\\"wake me up\\",\\"label_text\\":\\"alarm_set\\"}" }) { dataset { id } } }',
  );
  const started = await t.gql(
    `mutation { startEvalRun(input: { dataset: "${imported.body.data.importDataset.dataset.id}" }) { id } }`,
  );
  runId = started.body.data.startEvalRun.id;
});
afterAll(async () => {
  await t?.dispose();
  await upstream?.close();
});

/** An SSE subscription to the run, in-process. */
function subscribe(key: string) {
  const query = encodeURIComponent(`subscription { evalRunProgress(id: "${runId}") { id status } }`);
  return openSse((request) => t.edge.fetch(request), `http://edge.test/graphql?query=${query}`, key);
}

describe("SubscriptionGate in one isolate", () => {
  it("gives a key at most maxPerKey places and the isolate maxTotal; a release (once) frees one", async () => {
    const gate = new SubscriptionGate({ maxPerKey: 2, maxTotal: 3 });
    const a1 = await gate.enter("a");
    await gate.enter("a");
    await expect(gate.enter("a")).rejects.toThrow(/this API key has 2 subscriptions open/);
    await gate.enter("b");
    await expect(gate.enter("c")).rejects.toThrow(/too many subscriptions/);
    a1.release();
    a1.release(); // idempotent: frees one place, not two
    expect(gate.open).toBe(2);
    await gate.enter("c");
    await expect(gate.enter("d")).rejects.toThrow(/too many subscriptions/);
  });
});

describe("SubscriptionGate with leases: a key's places across isolates", () => {
  /** A clock the test moves. */
  const clock = () => {
    let t = 1_000_000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it("counts one key's places over two isolates, and a release in one frees a place in the other", async () => {
    const leases = memorySubscriptionLeases();
    const east = new SubscriptionGate({ maxPerKey: 3, maxTotal: 100 }, leases);
    const west = new SubscriptionGate({ maxPerKey: 3, maxTotal: 100 }, leases);
    const e1 = await east.enter("k");
    await east.enter("k");
    await west.enter("k");
    // each isolate alone holds fewer than 3; together they hold 3
    await expect(west.enter("k")).rejects.toMatchObject({
      message: "this API key has 3 subscriptions open; close one first",
      extensions: { code: "RATE_LIMITED" },
    });
    await expect(east.enter("k")).rejects.toThrow(/3 subscriptions open/);
    expect(west.open).toBe(1); // the refused one gave its isolate place back
    await west.enter("other"); // another key is not affected
    e1.release();
    await new Promise((r) => setTimeout(r, 0)); // the release is not awaited by the stream
    await west.enter("k");
    await expect(east.enter("k")).rejects.toThrow(/3 subscriptions open/);
  });

  it("lets the places of an isolate that died lapse after the TTL; renews only when due", async () => {
    const c = clock();
    const table = new LeaseTable();
    let renewals = 0;
    const store: LeaseStore = {
      acquire: async (id, max, ttl) => table.acquire(id, max, c.now(), ttl),
      renew: async (id, ttl) => {
        renewals++;
        return table.renew(id, c.now(), ttl);
      },
      release: async (id) => table.release(id),
    };
    const leases = subscriptionLeases(() => store, { ttlMs: 60_000, renewEveryMs: 15_000, now: c.now });
    const dead = new SubscriptionGate({ maxPerKey: 2 }, leases);
    const alive = new SubscriptionGate({ maxPerKey: 2 }, leases);
    await dead.enter("k");
    await dead.enter("k"); // never released: its isolate is gone
    const place = await alive.enter("k").catch((e: Error) => e);
    expect(place).toBeInstanceOf(Error);
    c.advance(59_999);
    await expect(alive.enter("k")).rejects.toThrow(/2 subscriptions open/);
    c.advance(1);
    const kept = await alive.enter("k");
    // a stream asks every second; the store is asked once per renewEveryMs
    for (let s = 0; s < 40; s++) {
      expect(await kept.stillHeld()).toBe(true);
      c.advance(1_000);
    }
    expect(renewals).toBe(2);
    // an isolate that stalls past the TTL finds its place gone, and its stream ends
    c.advance(61_000);
    expect(await kept.stillHeld()).toBe(false);
    expect(table.held(c.now())).toBe(0);
  });

  it("refuses with RATE_LIMITED and keeps no place when the lease store cannot be reached", async () => {
    const gate = new SubscriptionGate(
      {},
      subscriptionLeases(() => ({
        acquire: async () => {
          throw new Error("Durable Object unreachable");
        },
        renew: async () => true,
        release: async () => {},
      })),
    );
    await expect(gate.enter("k")).rejects.toMatchObject({
      message: "subscription places could not be counted just now; retry shortly",
      extensions: { code: "RATE_LIMITED" },
    });
    expect(gate.open).toBe(0);
  });
});

describe("LeaseTable", () => {
  it("renews a holder's own lease instead of taking a second place, and forgets lapsed ones", () => {
    const t = new LeaseTable();
    expect(t.acquire("a", 1, 0, 10)).toBe(true);
    expect(t.acquire("a", 1, 5, 10)).toBe(true); // its own: renewed to 15
    expect(t.acquire("b", 1, 14, 10)).toBe(false);
    expect(t.acquire("b", 1, 15, 10)).toBe(true); // a lapsed at 15
    expect(t.renew("a", 16, 10)).toBe(false);
    t.release("b");
    expect(t.held(16)).toBe(0);
    expect(new LeaseTable(t.entries()).held(16)).toBe(0);
    // what the object writes to storage: only after a change
    t.takeChanged();
    expect(t.acquire("c", 1, 20, 10)).toBe(true);
    expect(t.takeChanged()).toBe(true);
    expect(t.acquire("d", 1, 21, 10)).toBe(false); // refused, nothing lapsed
    expect(t.renew("d", 21, 10)).toBe(false);
    t.release("d");
    expect(t.takeChanged()).toBe(false);
    expect(t.acquire("d", 1, 31, 10)).toBe(true); // c lapsed at 30
    expect(t.takeChanged()).toBe(true);
  });
});

describe("evalRunProgress over SSE", () => {
  it("refuses a key's third open subscription with RATE_LIMITED, and takes it once one closes", async () => {
    const key = await createKey(t.db, ["eval"]);
    const first = await subscribe(key);
    const second = await subscribe(key);
    expect(await first.until(/"status":"queued"/)).toContain(runId);
    expect(await second.until(/"status":"queued"/)).toContain(runId);
    const third = await subscribe(key);
    expect(await third.until(/RATE_LIMITED|"status"/)).toMatch(/RATE_LIMITED/);
    await third.close();
    await first.close();
    // the closed stream's place is free again (its release runs when yoga closes the iterator)
    let again = await subscribe(key);
    for (let i = 0; i < 20 && !/"status"/.test(await again.until(/RATE_LIMITED|"status"/)); i++) {
      await again.close();
      await new Promise((r) => setTimeout(r, 50));
      again = await subscribe(key);
    }
    expect(await again.until(/"status"/)).toContain(runId);
    await again.close();
    await second.close();
  });

  it("gives the place back when the answer is not a stream (a subscription that accepts only JSON gets 406)", async () => {
    const key = await createKey(t.db, ["eval"]);
    const query = encodeURIComponent(`subscription { evalRunProgress(id: "${runId}") { id status } }`);
    // more than the isolate's 3 places and the key's 2, in each media type that cannot carry a stream
    for (const accept of [
      "application/json",
      "application/graphql-response+json",
      "multipart/mixed",
      "text/plain",
      "application/json",
    ]) {
      const response = await t.edge.fetch(
        new Request(`http://edge.test/graphql?query=${query}`, {
          headers: { accept, authorization: `Bearer ${key}` },
        }),
      );
      expect(response.status, accept).toBe(406);
      expect(((await response.json()) as any).errors[0].message).toMatch(
        /a subscription: text\/event-stream/,
      );
    }
    const stream = await subscribe(key);
    expect(await stream.until(/RATE_LIMITED|"status"/)).toMatch(/"status":"queued"/);
    await stream.close();
  });

  it("ends an open stream whose place lapsed (its isolate stalled past the TTL), with RATE_LIMITED", async () => {
    const key = await createKey(t.db, ["eval"]);
    const stream = await subscribe(key);
    expect(await stream.until(/"status":"queued"/)).toContain(runId);
    clockSkew = 120_000; // past the 60 s TTL: the next renewal finds the lease gone
    try {
      const text = await stream.until(/RATE_LIMITED/);
      expect(text).toMatch(/place lapsed; subscribe again/);
    } finally {
      clockSkew = 0;
      await stream.close();
    }
  }, 15_000);

  it("ends an open stream when its key is revoked, with UNAUTHENTICATED", async () => {
    const created = await t.gql(
      'mutation { createApiKey(name: "watcher", scopes: [eval]) { key apiKey { id } } }',
    );
    const { key, apiKey } = created.body.data.createApiKey;
    const stream = await subscribe(key);
    expect(await stream.until(/"status":"queued"/)).toContain(runId);
    await t.gql("mutation ($id: ID!) { revokeApiKey(id: $id) { revokedAt } }", { id: apiKey.id });
    // the next poll (every second) asks the key store, which forgot the key at revocation
    const text = await stream.until(/UNAUTHENTICATED/);
    expect(text).toMatch(/no longer valid/);
    await stream.close();
  }, 15_000);
});
