/**
 * API keys: format, hashing and lookup. Pure WebCrypto, so the Worker and the CLI (`npm start`
 * creating the local key) hash identically.
 *
 * A key reads `iql_<id>_<secret>`: `id` (12 hex) is public and finds the D1 row; the stored hash is
 * HMAC-SHA256(pepper, whole key), compared in constant time.
 */

import type { D1Database } from "@cloudflare/workers-types";
import type { Scope } from "../graphql/builder.ts";

export const SCOPES: readonly Scope[] = ["classify", "eval", "admin"];
const KEY_PATTERN = /^iql_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface ParsedKey {
  id: string;
  token: string;
}

export function parseApiKey(token: string): ParsedKey | null {
  const match = KEY_PATTERN.exec(token);
  return match ? { id: match[1]!, token } : null;
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function generateApiKey(): string {
  const id = hex(crypto.getRandomValues(new Uint8Array(6)));
  return `iql_${id}_${base64url(crypto.getRandomValues(new Uint8Array(32)))}`;
}

const encoder = new TextEncoder();
const hmacKeys = new Map<string, Promise<CryptoKey>>();

export async function hashApiKey(pepper: string, token: string): Promise<string> {
  let key = hmacKeys.get(pepper);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(pepper), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    hmacKeys.set(pepper, key);
  }
  return hex(new Uint8Array(await crypto.subtle.sign("HMAC", await key, encoder.encode(token))));
}

/** Constant-time comparison of two hex digests (their length is public: always 64). */
export function timingSafeEqualText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export function parseScopes(text: string): Scope[] {
  const scopes = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const s of scopes)
    if (!(SCOPES as readonly string[]).includes(s))
      throw new Error(`unknown scope "${s}" (use ${SCOPES.join(", ")})`);
  return scopes as Scope[];
}

export interface ApiKeyRow {
  id: string;
  key_hash: string;
  scopes: string;
  revoked_at: string | null;
}

/** SQL + values that store a key (used by `npm start`, tests and, later, an admin mutation). */
export async function insertApiKeyStatement(
  pepper: string,
  token: string,
  scopes: readonly Scope[],
  name = "",
): Promise<{ sql: string; values: string[] }> {
  const parsed = parseApiKey(token);
  if (!parsed) throw new Error("not an IntentQL API key (iql_<12 hex>_<43 base64url>)");
  return {
    sql: "INSERT INTO api_keys (id, key_hash, name, scopes) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET key_hash = excluded.key_hash, scopes = excluded.scopes, name = excluded.name, revoked_at = NULL",
    values: [parsed.id, await hashApiKey(pepper, token), name, scopes.join(",")],
  };
}

export type AuthFailure = "missing" | "malformed" | "unknown" | "revoked";

export interface Authenticated {
  keyId: string;
  scopes: Set<Scope>;
}

// A fixed row hashed against when the id is unknown, so unknown and wrong keys cost the same time.
const DUMMY_HASH = "0".repeat(64);

/** The key store could not be read (D1 down or failing): the caller answers 503 KEY_STORE_UNAVAILABLE. */
export class KeyStoreUnavailableError extends Error {
  override name = "KeyStoreUnavailableError";
}

/** `hash` is HMAC(pepper, token) when the caller has it already. */
export async function authenticateKey(
  db: D1Database,
  pepper: string,
  token: string | null,
  hash?: string,
): Promise<Authenticated | AuthFailure> {
  if (token === null || token === "") return "missing";
  const parsed = parseApiKey(token);
  if (!parsed) return "malformed";
  const lookup = async (): Promise<ApiKeyRow | null> => {
    try {
      return await db
        .prepare("SELECT id, key_hash, scopes, revoked_at FROM api_keys WHERE id = ?")
        .bind(parsed.id)
        .first<ApiKeyRow>();
    } catch (error) {
      throw new KeyStoreUnavailableError(`api_keys lookup failed: ${(error as Error)?.message}`);
    }
  };
  const [row, digest] = await Promise.all([lookup(), hash ?? hashApiKey(pepper, token)]);
  const equal = timingSafeEqualText(digest, row?.key_hash ?? DUMMY_HASH);
  if (!row || !equal) return "unknown";
  if (row.revoked_at !== null) return "revoked";
  return { keyId: row.id, scopes: new Set(parseScopes(row.scopes)) };
}

export interface KeyStoreOptions {
  db: D1Database;
  /** HMAC key the stored hashes were made with (secret API_KEY_PEPPER). */
  pepper: string;
  /** How long a verified key (or a refusal) is trusted without reading D1 again. This bounds how
   * late a revocation takes effect in other isolates. Default 30,000 ms; at most 60,000. */
  ttlMs?: number;
  /** Verified keys kept per isolate; the least recently used go first. Default 10,000. */
  maxEntries?: number;
  /** Clock in ms; injectable for tests. */
  now?: () => number;
}

interface CachedVerdict {
  verdict: Authenticated | "unknown" | "revoked";
  expires: number;
}

/** Stored `api_keys` row as the admin surface shows it. */
interface ApiKeyListRow {
  id: string;
  name: string;
  scopes: string;
  created_at: string;
  revoked_at: string | null;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: string;
  revokedAt: string | null;
}

function toRecord(row: ApiKeyListRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    scopes: parseScopes(row.scopes),
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/** How many revocations KeyStore remembers against reads in flight (see `#revokedAt`). */
const MAX_REVOCATIONS_KEPT = 1_000;

/**
 * API keys with a per-isolate cache: D1 is read once per key per TTL, not once per request, so a
 * request with a known key costs an HMAC and a Map lookup. The cache is keyed by the HMAC of the
 * whole key (never by its public id, which would let a wrong secret ride on a cached verdict), and
 * concurrent misses for one key share one D1 read.
 */
export class KeyStore {
  readonly ttlMs: number;
  readonly #db: D1Database;
  readonly #pepper: string;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #verdicts = new Map<string, CachedVerdict>();
  readonly #pending = new Map<string, { read: Promise<Authenticated | AuthFailure>; startedAt: number }>();
  /**
   * Revocations seen by this isolate: key id → the count of revocations when it was revoked. A D1
   * read already in flight when its key is revoked here returns the row as it was; without this, its
   * "valid" verdict would be cached for the whole TTL after the revocation had answered (session 15's
   * attack pass: 8 of 60 races, each key accepted ~29 s more). Only reads in flight matter, so the
   * oldest entries are dropped past MAX_REVOCATIONS_KEPT.
   */
  readonly #revokedAt = new Map<string, number>();
  #revocations = 0;

  constructor(options: KeyStoreOptions) {
    this.#db = options.db;
    this.#pepper = options.pepper;
    this.ttlMs = Math.min(options.ttlMs ?? 30_000, 60_000);
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? (() => Date.now());
  }

  /**
   * Throws KeyStoreUnavailableError when D1 cannot be read and nothing fresh is cached.
   * `beforeRead` runs when the answer needs D1 (a cache miss); returning false skips the read and
   * answers "unknown" (the caller throttles guessing that way).
   */
  async verify(
    token: string | null,
    beforeRead?: () => Promise<boolean>,
  ): Promise<Authenticated | AuthFailure> {
    if (token === null || token === "") return "missing";
    if (!parseApiKey(token)) return "malformed";
    const hash = await hashApiKey(this.#pepper, token);
    const cached = this.#verdicts.get(hash);
    const now = this.#now();
    if (cached && cached.expires > now) {
      this.#verdicts.delete(hash); // re-inserted: Map order is least recently used first
      this.#verdicts.set(hash, cached);
      return cached.verdict;
    }
    let pending = this.#pending.get(hash);
    if (!pending && beforeRead && !(await beforeRead())) return "unknown";
    pending ??= this.#pending.get(hash);
    if (!pending) {
      pending = {
        read: authenticateKey(this.#db, this.#pepper, token, hash).finally(() => this.#pending.delete(hash)),
        startedAt: this.#revocations,
      };
      this.#pending.set(hash, pending);
    }
    const verdict = await pending.read;
    // revoked here after that read began: the row it saw is stale, and the key is revoked
    if (typeof verdict === "object" && (this.#revokedAt.get(verdict.keyId) ?? -1) >= pending.startedAt)
      return "revoked";
    if (verdict !== "missing" && verdict !== "malformed") this.#remember(hash, verdict);
    return verdict;
  }

  #remember(hash: string, verdict: CachedVerdict["verdict"]): void {
    this.#verdicts.delete(hash);
    if (this.#verdicts.size >= this.#maxEntries) this.#verdicts.delete(this.#verdicts.keys().next().value!);
    this.#verdicts.set(hash, { verdict, expires: this.#now() + this.ttlMs });
  }

  /** Forgets every cached verdict for this key id, and any read of it in flight (this isolate only;
   * others within the TTL). */
  #forget(id: string): void {
    for (const [hash, { verdict }] of this.#verdicts)
      if (typeof verdict === "object" && verdict.keyId === id) this.#verdicts.delete(hash);
    this.#revokedAt.delete(id);
    this.#revokedAt.set(id, this.#revocations++);
    if (this.#revokedAt.size > MAX_REVOCATIONS_KEPT)
      this.#revokedAt.delete(this.#revokedAt.keys().next().value!);
  }

  /** The newest `first` keys (an index range: migration 0008). */
  async list(includeRevoked: boolean, first: number): Promise<ApiKeyRecord[]> {
    const { results } = await this.#db
      .prepare(
        `SELECT id, name, scopes, created_at, revoked_at FROM api_keys ${includeRevoked ? "" : "WHERE revoked_at IS NULL "}ORDER BY created_at DESC, id LIMIT ?`,
      )
      .bind(first)
      .all<ApiKeyListRow>();
    return results.map(toRecord);
  }

  async create(name: string, scopes: readonly Scope[]): Promise<{ key: string; apiKey: ApiKeyRecord }> {
    const key = generateApiKey();
    const id = parseApiKey(key)!.id;
    await this.#db
      .prepare("INSERT INTO api_keys (id, key_hash, name, scopes) VALUES (?, ?, ?, ?)")
      .bind(id, await hashApiKey(this.#pepper, key), name, scopes.join(","))
      .run();
    const row = await this.#db
      .prepare("SELECT id, name, scopes, created_at, revoked_at FROM api_keys WHERE id = ?")
      .bind(id)
      .first<ApiKeyListRow>();
    return { key, apiKey: toRecord(row!) };
  }

  async revoke(id: string): Promise<ApiKeyRecord | null> {
    await this.#db
      .prepare(
        "UPDATE api_keys SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ? AND revoked_at IS NULL",
      )
      .bind(id)
      .run();
    this.#forget(id);
    const row = await this.#db
      .prepare("SELECT id, name, scopes, created_at, revoked_at FROM api_keys WHERE id = ?")
      .bind(id)
      .first<ApiKeyListRow>();
    return row ? toRecord(row) : null;
  }
}
