/**
 * Model aliases (D1 `model_aliases`): a name that classify(model:) and eval runs accept in place of a
 * served model, pinned to one version of it. `default` is the alias of every request that names no
 * model; without it the Worker's MODEL setting is the default. Switching or rolling back the model in
 * use is then one admin mutation, never a Worker deploy.
 *
 * Each isolate keeps the table for `ttlMs` (default 5 s): a change reaches every isolate within that,
 * and a classify request costs no D1 read otherwise.
 */
import type { D1Database } from "@cloudflare/workers-types";

export const DEFAULT_ALIAS = "default";
/** Alias names: a served model's name space, so `model:` takes either. */
export const ALIAS_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

export interface ModelAlias {
  alias: string;
  model: string;
  version: string;
  updatedAt: string;
}

/** What a requested name resolves to: a model, pinned to a version when it came through an alias. */
export interface ResolvedModel {
  model: string;
  version?: string;
  alias?: string;
}

export class ModelAliases {
  #cache: { aliases: Map<string, ModelAlias>; expires: number } | undefined;
  #pending: Promise<Map<string, ModelAlias>> | undefined;

  constructor(
    private readonly db: D1Database,
    private readonly fallbackDefault: string,
    private readonly ttlMs = 5_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  async list(): Promise<ModelAlias[]> {
    return [...(await this.#aliases()).values()].sort((a, b) => a.alias.localeCompare(b.alias));
  }

  /** `name` (or the default when null) as a model name, with the alias's version pin if it is one. */
  async resolve(name: string | null): Promise<ResolvedModel> {
    const requested = name ?? DEFAULT_ALIAS;
    const alias = (await this.#aliases()).get(requested);
    if (alias) return { model: alias.model, version: alias.version, alias: alias.alias };
    return { model: requested === DEFAULT_ALIAS ? this.fallbackDefault : requested };
  }

  async set(alias: string, model: string, version: string): Promise<ModelAlias> {
    await this.db
      .prepare(
        `INSERT INTO model_aliases (alias, model, version) VALUES (?1, ?2, ?3)
         ON CONFLICT (alias) DO UPDATE SET model = ?2, version = ?3,
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
      )
      .bind(alias, model, version)
      .run();
    this.#cache = undefined;
    return (await this.#aliases()).get(alias)!;
  }

  async remove(alias: string): Promise<boolean> {
    const result = await this.db.prepare("DELETE FROM model_aliases WHERE alias = ?").bind(alias).run();
    this.#cache = undefined;
    return (result.meta.changes ?? 0) > 0;
  }

  async #aliases(): Promise<Map<string, ModelAlias>> {
    if (this.#cache && this.#cache.expires > this.now()) return this.#cache.aliases;
    this.#pending ??= this.db
      .prepare("SELECT alias, model, version, updated_at AS updatedAt FROM model_aliases")
      .all<ModelAlias>()
      .then(({ results }) => {
        const aliases = new Map(results.map((a) => [a.alias, a]));
        this.#cache = { aliases, expires: this.now() + this.ttlMs };
        return aliases;
      })
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }
}
