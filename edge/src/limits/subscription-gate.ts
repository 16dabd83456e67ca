/**
 * Open subscriptions. Each `evalRunProgress` polls D1 once a second while its run goes on, and the
 * request limit alone let one key open about 500 of them every 10 s: 2,500 held open made one
 * key's stream of reads slow every other caller to seconds (session 13's second attack pass). So a
 * key holds at most `maxPerKey` at once and an isolate `maxTotal`; beyond, a new subscription is
 * refused with RATE_LIMITED (the ones open go on). The isolate counts its total; a key's places it
 * counts itself, or, with `leases` (the Worker: a Durable Object per key, subscription-leases.ts),
 * across every isolate, where the key's limit means what it says.
 */
import { GraphQLError } from "graphql";
import { ErrorCode } from "../graphql/errors.ts";
import type { KeyLeases } from "./subscription-leases.ts";

export interface SubscriptionLimits {
  /** Subscriptions one API key holds open at once (every isolate, with leases). Default 8 (the dashboard uses 1). */
  maxPerKey?: number;
  /** Subscriptions open at once in one isolate, every key together. Default 256. */
  maxTotal?: number;
}

export const SUBSCRIPTION_LIMIT_DEFAULTS: Required<SubscriptionLimits> = { maxPerKey: 8, maxTotal: 256 };

/** A subscription's place: give it back when the stream ends; ask whether it still holds it. */
export interface SubscriptionPlace {
  /** Gives the place back (idempotent); settles once the key's lease store has it back. */
  release(): Promise<void>;
  /** False once the key's lease lapsed (the stream should end); renews it when due. */
  stillHeld(): Promise<boolean>;
}

function refused(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.RATE_LIMITED, http: { status: 429, headers: { "retry-after": "5" } } },
  });
}

export class SubscriptionGate {
  readonly #limits: Required<SubscriptionLimits>;
  readonly #leases: KeyLeases | undefined;
  readonly #perKey = new Map<string, number>();
  #total = 0;

  constructor(limits: SubscriptionLimits = {}, leases?: KeyLeases) {
    this.#limits = { ...SUBSCRIPTION_LIMIT_DEFAULTS, ...limits };
    this.#leases = leases;
  }

  /** Subscriptions open now in this isolate (all keys). */
  get open(): number {
    return this.#total;
  }

  /**
   * Takes a place for `keyId` here and, with leases, among its places everywhere; or throws
   * RATE_LIMITED. `keepAlive` (the Worker's waitUntil) is handed the lease's return at once, so that
   * it runs to the end even when the stream ends because its client left (the request is over then).
   */
  async enter(keyId: string, keepAlive?: (work: Promise<unknown>) => void): Promise<SubscriptionPlace> {
    const releaseHere = this.#enterHere(keyId);
    if (!this.#leases)
      return {
        release: async () => releaseHere(),
        stillHeld: async () => true,
      };
    let lease: Awaited<ReturnType<KeyLeases["acquire"]>>;
    try {
      lease = await this.#leases.acquire(keyId, this.#limits.maxPerKey);
    } catch {
      releaseHere();
      throw refused("subscription places could not be counted just now; retry shortly");
    }
    if (!lease) {
      releaseHere();
      throw refused(`this API key has ${this.#limits.maxPerKey} subscriptions open; close one first`);
    }
    const held = lease;
    let end!: () => void;
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const returned = ended.then(() => held.release());
    keepAlive?.(returned);
    return {
      release: () => {
        releaseHere();
        end();
        return returned;
      },
      stillHeld: () => held.stillHeld(),
    };
  }

  /**
   * The isolate's own count: its total, and each key's places unless leases count those (across
   * isolates). Returns its release (idempotent).
   */
  #enterHere(keyId: string): () => void {
    const { maxPerKey, maxTotal } = this.#limits;
    const perKey = this.#leases === undefined;
    const held = perKey ? (this.#perKey.get(keyId) ?? 0) : 0;
    if ((perKey && held >= maxPerKey) || this.#total >= maxTotal)
      throw refused(
        perKey && held >= maxPerKey
          ? `this API key has ${maxPerKey} subscriptions open; close one first`
          : "too many subscriptions are open on this server; retry shortly",
      );
    if (perKey) this.#perKey.set(keyId, held + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      if (!perKey) return;
      const left = (this.#perKey.get(keyId) ?? 1) - 1;
      if (left > 0) this.#perKey.set(keyId, left);
      else this.#perKey.delete(keyId);
    };
  }
}
