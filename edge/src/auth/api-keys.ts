/**
 * API keys: format, hashing and lookup. Pure WebCrypto, so the Worker and the CLI (`npm start`
 * creating the local key) hash identically.
 *
 * A key reads `iql_<id>_<secret>`: `id` (12 hex) is public and finds the D1 row; the stored hash is
 * HMAC-SHA256(pepper, whole key), compared in constant time.
 */
import type { Scope } from "../../../schema/src/graphql/builder.ts";
import type { D1Database } from "../d1.ts";

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

export async function authenticateKey(
  db: D1Database,
  pepper: string,
  token: string | null,
): Promise<Authenticated | AuthFailure> {
  if (token === null || token === "") return "missing";
  const parsed = parseApiKey(token);
  if (!parsed) return "malformed";
  const [row, hash] = await Promise.all([
    db
      .prepare("SELECT id, key_hash, scopes, revoked_at FROM api_keys WHERE id = ?")
      .bind(parsed.id)
      .first<ApiKeyRow>(),
    hashApiKey(pepper, token),
  ]);
  const equal = timingSafeEqualText(hash, row?.key_hash ?? DUMMY_HASH);
  if (!row || !equal) return "unknown";
  if (row.revoked_at !== null) return "revoked";
  return { keyId: row.id, scopes: new Set(parseScopes(row.scopes)) };
}
