/**
 * Open subscriptions per API key across every isolate: one SubscriptionLeaseObject per key (named
 * by the key id) holds its leases (subscription-leases.ts). The table is written to the object's
 * storage after each change, so a restarted object still knows the places it gave out.
 */
import { DurableObject, type DurableObjectState } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { type LeaseStore, LeaseTable } from "./subscription-leases.ts";

const KEY = "leases";

export class SubscriptionLeaseObject extends DurableObject<Env> implements LeaseStore {
  #table = new LeaseTable();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#table = new LeaseTable((await ctx.storage.get<[string, number][]>(KEY)) ?? []);
    });
  }

  async acquire(id: string, max: number, ttlMs: number): Promise<boolean> {
    const taken = this.#table.acquire(id, max, Date.now(), ttlMs);
    await this.#save();
    return taken;
  }

  async renew(id: string, ttlMs: number): Promise<boolean> {
    const held = this.#table.renew(id, Date.now(), ttlMs);
    await this.#save();
    return held;
  }

  async release(id: string): Promise<void> {
    this.#table.release(id);
    await this.#save();
  }

  /** Writes the table when it changed (a refused acquire of a full, live table writes nothing). */
  async #save(): Promise<void> {
    if (!this.#table.takeChanged()) return;
    const entries = this.#table.entries();
    if (entries.length === 0) await this.ctx.storage.delete(KEY);
    else await this.ctx.storage.put(KEY, entries);
  }
}
