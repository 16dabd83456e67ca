/**
 * Open subscriptions per isolate. Each `evalRunProgress` polls D1 once a second while its run goes
 * on, and the request limit alone let one key open about 500 of them every 10 s: 2,500 held open
 * made one key's stream of reads slow every other caller to seconds (session 13's second attack
 * pass). So a key holds at most `maxPerKey` at once in an isolate, and an isolate `maxTotal`;
 * beyond, a new subscription is refused with RATE_LIMITED (the ones open go on).
 */
import { GraphQLError } from "graphql";
import { ErrorCode } from "../graphql/errors.ts";

export interface SubscriptionLimits {
  /** Subscriptions one API key holds open at once in one isolate. Default 8 (the dashboard uses 1). */
  maxPerKey?: number;
  /** Subscriptions open at once in one isolate, every key together. Default 256. */
  maxTotal?: number;
}

export const SUBSCRIPTION_LIMIT_DEFAULTS: Required<SubscriptionLimits> = { maxPerKey: 8, maxTotal: 256 };

export class SubscriptionGate {
  readonly #limits: Required<SubscriptionLimits>;
  readonly #perKey = new Map<string, number>();
  #total = 0;

  constructor(limits: SubscriptionLimits = {}) {
    this.#limits = { ...SUBSCRIPTION_LIMIT_DEFAULTS, ...limits };
  }

  /** Subscriptions open now (all keys). */
  get open(): number {
    return this.#total;
  }

  /** Takes a place for `keyId`, or throws RATE_LIMITED; returns its release (idempotent). */
  enter(keyId: string): () => void {
    const { maxPerKey, maxTotal } = this.#limits;
    const held = this.#perKey.get(keyId) ?? 0;
    if (held >= maxPerKey || this.#total >= maxTotal)
      throw new GraphQLError(
        held >= maxPerKey
          ? `this API key has ${maxPerKey} subscriptions open; close one first`
          : "too many subscriptions are open on this server; retry shortly",
        {
          extensions: {
            code: ErrorCode.RATE_LIMITED,
            http: { status: 429, headers: { "retry-after": "5" } },
          },
        },
      );
    this.#perKey.set(keyId, held + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#perKey.get(keyId) ?? 1) - 1;
      if (left > 0) this.#perKey.set(keyId, left);
      else this.#perKey.delete(keyId);
    };
  }
}
