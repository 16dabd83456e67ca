/**
 * A key's open subscriptions across every isolate. The isolate gate (subscription-gate.ts) counts
 * what one isolate holds, and production has many: a key reaching 50 isolates could hold 50 times
 * its limit. So each key's places also live in one SubscriptionLeaseObject (a Durable Object named
 * by the key id), as leases: a stream takes one when it opens, renews it while it polls, and gives
 * it back when it ends. A lease not renewed within `ttlMs` lapses, so an isolate that dies (or a
 * release lost with its request) holds a place for at most that long.
 */

/** Leases by id with their expiry: the object's state, kept apart so that it is testable alone. */
export class LeaseTable {
  readonly #expiry = new Map<string, number>();
  #changed = false;

  constructor(entries: Iterable<readonly [string, number]> = []) {
    for (const [id, expires] of entries) this.#expiry.set(id, expires);
  }

  /** Takes a place for `id` (or renews its own), unless `max` other leases are live. */
  acquire(id: string, max: number, now: number, ttlMs: number): boolean {
    this.#prune(now);
    if (!this.#expiry.has(id) && this.#expiry.size >= max) return false;
    this.#set(id, now + ttlMs);
    return true;
  }

  /** Extends a live lease; false when it lapsed or was never taken (its place may be gone). */
  renew(id: string, now: number, ttlMs: number): boolean {
    this.#prune(now);
    if (!this.#expiry.has(id)) return false;
    this.#set(id, now + ttlMs);
    return true;
  }

  release(id: string): void {
    if (this.#expiry.delete(id)) this.#changed = true;
  }

  /** Whether anything changed since the last call (so that a refusal writes nothing to storage). */
  takeChanged(): boolean {
    const changed = this.#changed;
    this.#changed = false;
    return changed;
  }

  /** Live leases at `now`. */
  held(now: number): number {
    this.#prune(now);
    return this.#expiry.size;
  }

  entries(): [string, number][] {
    return [...this.#expiry];
  }

  #set(id: string, expires: number): void {
    this.#expiry.set(id, expires);
    this.#changed = true;
  }

  #prune(now: number): void {
    for (const [id, expires] of this.#expiry)
      if (expires <= now) {
        this.#expiry.delete(id);
        this.#changed = true;
      }
  }
}

/** One key's lease table as the isolate reaches it (the Durable Object's RPC stub). */
export interface LeaseStore {
  acquire(id: string, max: number, ttlMs: number): Promise<boolean>;
  renew(id: string, ttlMs: number): Promise<boolean>;
  release(id: string): Promise<void>;
}

/** The SUBSCRIPTION_LEASES Durable Object namespace binding. */
export interface SubscriptionLeaseNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): LeaseStore;
}

/** A stream's place among its key's subscriptions everywhere. */
export interface SubscriptionLease {
  /** Renews the lease when it is due (else answers at once); false once the place has lapsed. */
  stillHeld(): Promise<boolean>;
  /** Gives the place back (once; settles when the store has it back, never rejects: a lost release lapses after the TTL). */
  release(): Promise<void>;
}

/** Places per key across isolates: a lease, or null when the key holds `max` already. */
export interface KeyLeases {
  acquire(key: string, max: number): Promise<SubscriptionLease | null>;
}

export interface SubscriptionLeaseOptions {
  /** A lease lapses this long after its last renewal. Default 60,000 ms. */
  ttlMs?: number;
  /** A stream renews its lease when this much has passed since the last renewal. Default 15,000 ms. */
  renewEveryMs?: number;
  now?: () => number;
}

export const SUBSCRIPTION_LEASE_DEFAULTS = { ttlMs: 60_000, renewEveryMs: 15_000 } as const;

/** Leases held in `storeOf(key)`: the Durable Object's stub in the Worker, a LeaseTable in tests. */
export function subscriptionLeases(
  storeOf: (key: string) => LeaseStore,
  options: SubscriptionLeaseOptions = {},
): KeyLeases {
  const ttlMs = options.ttlMs ?? SUBSCRIPTION_LEASE_DEFAULTS.ttlMs;
  const renewEveryMs = options.renewEveryMs ?? SUBSCRIPTION_LEASE_DEFAULTS.renewEveryMs;
  const now = options.now ?? (() => Date.now());
  return {
    async acquire(key, max) {
      const store = storeOf(key);
      const id = crypto.randomUUID();
      if (!(await store.acquire(id, max, ttlMs))) return null;
      let renewedAt = now();
      let released: Promise<void> | undefined;
      return {
        async stillHeld() {
          if (released) return false;
          if (now() - renewedAt < renewEveryMs) return true;
          const held = await store.renew(id, ttlMs);
          if (held) renewedAt = now();
          return held;
        },
        release() {
          released ??= store.release(id).catch(() => {});
          return released;
        },
      };
    },
  };
}

/** Leases in the SUBSCRIPTION_LEASES Durable Objects, one per key. */
export function durableSubscriptionLeases(
  namespace: SubscriptionLeaseNamespace,
  options: SubscriptionLeaseOptions = {},
): KeyLeases {
  return subscriptionLeases((key) => namespace.get(namespace.idFromName(key)), options);
}

/** Leases in this isolate's memory (no Durable Object): a LeaseTable per key, for in-process use. */
export function memorySubscriptionLeases(options: SubscriptionLeaseOptions = {}): KeyLeases {
  const now = options.now ?? (() => Date.now());
  const tables = new Map<string, LeaseTable>();
  return subscriptionLeases((key) => {
    const table = tables.get(key) ?? new LeaseTable();
    tables.set(key, table);
    return {
      acquire: async (id, max, ttlMs) => table.acquire(id, max, now(), ttlMs),
      renew: async (id, ttlMs) => table.renew(id, now(), ttlMs),
      release: async (id) => {
        table.release(id);
        if (table.held(now()) === 0) tables.delete(key);
      },
    };
  }, options);
}
