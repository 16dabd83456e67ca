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
/**
 * The most aliases the table may hold. Every isolate reads the whole table into memory (each ttlMs)
 * and `modelAliases` lists it to every key: 20,000 aliases made 20 aliased lists 50 MB (session 15's
 * attack pass). A deployment names a handful (default, stable, canary, one per customer tier…).
 */
export const MAX_ALIASES = 64;

/** setModelAlias refused: the table holds MAX_ALIASES already and this alias is not one of them. */
export class TooManyAliases extends Error {
  constructor() {
    super(`there are ${MAX_ALIASES} aliases already, the most there may be: remove one first`);
    this.name = "TooManyAliases";
  }
}
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

  /** Creates or repoints `alias`; a new one only while fewer than MAX_ALIASES exist (checked in the
   * same statement, so concurrent creations cannot pass the cap together), else TooManyAliases. */
  async set(alias: string, model: string, version: string): Promise<ModelAlias> {
    const written = await this.db
      .prepare(
        `INSERT INTO model_aliases (alias, model, version)
           SELECT ?1, ?2, ?3
           WHERE (SELECT count(*) FROM model_aliases) < ?4
              OR EXISTS (SELECT 1 FROM model_aliases WHERE alias = ?1)
         ON CONFLICT (alias) DO UPDATE SET model = ?2, version = ?3,
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         RETURNING alias, model, version, updated_at AS updatedAt`,
      )
      .bind(alias, model, version, MAX_ALIASES)
      .first<ModelAlias>();
    this.#cache = undefined;
    if (!written) throw new TooManyAliases();
    return written;
  }

  async remove(alias: string): Promise<boolean> {
    const result = await this.db.prepare("DELETE FROM model_aliases WHERE alias = ?").bind(alias).run();
    this.#cache = undefined;
    return (result.meta.changes ?? 0) > 0;
  }

  async #aliases(): Promise<Map<string, ModelAlias>> {
    if (this.#cache && this.#cache.expires > this.now()) return this.#cache.aliases;
    this.#pending ??= this.db
      // at most MAX_ALIASES even where an older deployment stored more before the cap
      .prepare(
        "SELECT alias, model, version, updated_at AS updatedAt FROM model_aliases ORDER BY alias LIMIT ?",
      )
      .bind(MAX_ALIASES)
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
