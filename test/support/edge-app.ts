/**
 * The edge's GraphQL server in-process (no workerd): the same createEdge the Worker runs, with the
 * bundle assets read from disk, a real D1 (Miniflare) with the migrations applied, and helpers to
 * mint API keys and post GraphQL through `yoga.fetch`.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { D1Database } from "@cloudflare/workers-types";
import type { Scope } from "@intentql/edge";
import type { BundleManifest, Label } from "@intentql/schema";
import { createEdge, type EdgeOptions } from "../../edge/src/app.ts";
import { generateApiKey, insertApiKeyStatement } from "../../edge/src/auth/api-keys.ts";
import type { EdgeBundleAssets } from "../../edge/src/classifier/edge-model.ts";
import { startD1 } from "./d1.ts";
import { BUNDLE_DIR } from "./edge-fake-upstream.ts";

export const TEST_PEPPER = "test-pepper-not-secret";

export function readBundleAssets(dir = BUNDLE_DIR): EdgeBundleAssets {
  return {
    vocabText: readFileSync(resolve(dir, "vocab.txt"), "utf8"),
    labels: JSON.parse(readFileSync(resolve(dir, "labels.json"), "utf8")) as Label[],
    manifest: JSON.parse(readFileSync(resolve(dir, "bundle.json"), "utf8")) as BundleManifest,
  };
}

export async function createKey(db: D1Database, scopes: Scope[], pepper = TEST_PEPPER): Promise<string> {
  const key = generateApiKey();
  const { sql, values } = await insertApiKeyStatement(pepper, key, scopes, "test");
  await db
    .prepare(sql)
    .bind(...values)
    .run();
  return key;
}

export interface TestEdge {
  db: D1Database;
  edge: ReturnType<typeof createEdge>;
  /** A key with every scope. */
  key: string;
  gql(
    query: string,
    variables?: Record<string, unknown>,
    init?: { key?: string | null; headers?: Record<string, string> },
  ): Promise<{
    status: number;
    body: { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
  }>;
  dispose(): Promise<void>;
}

export async function startTestEdge(
  upstreamUrl: string,
  overrides: Partial<Omit<EdgeOptions, "upstream">> & { upstream?: Partial<EdgeOptions["upstream"]> } = {},
): Promise<TestEdge> {
  const d1 = await startD1();
  const db = d1.db;
  const edge = createEdge({
    assets: readBundleAssets(),
    db,
    pepper: TEST_PEPPER,
    ...overrides,
    upstream: { url: upstreamUrl, model: "massive-scratch", timeoutMs: 2_000, ...overrides.upstream },
  });
  const key = await createKey(db, ["classify", "eval", "admin"]);
  return {
    db,
    edge,
    key,
    async gql(query, variables, init = {}) {
      const headers: Record<string, string> = { "content-type": "application/json", ...init.headers };
      const useKey = init.key === undefined ? key : init.key;
      if (useKey !== null) headers.authorization = `Bearer ${useKey}`;
      const response = await edge.fetch(
        new Request("http://edge.test/graphql", {
          method: "POST",
          headers,
          body: JSON.stringify({ query, variables }),
        }),
      );
      return { status: response.status, body: (await response.json()) as any };
    },
    dispose: () => d1.dispose(),
  };
}
