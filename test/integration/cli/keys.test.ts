/**
 * `intentql keys create|list|revoke` as a subprocess against the real edge (createEdge with a real
 * D1 through Miniflare, test/support/edge-app.ts) served over HTTP on 127.0.0.1 by a small Node
 * adapter around `edge.fetch`.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKey, startTestEdge, type TestEdge } from "../../support/edge-app.ts";
import { type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";
import { runCli, serveFetch } from "../../support/serve-fetch.ts";

const KEY = /^iql_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
let upstream: FakeUpstream;
let t: TestEdge;
let http: Awaited<ReturnType<typeof serveFetch>>;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  t = await startTestEdge(upstream.url);
  http = await serveFetch((request) => t.edge.fetch(request));
});

afterAll(async () => {
  await http?.close();
  await t?.dispose();
  await upstream?.close();
});

/** Runs the CLI asynchronously (the edge answers from this process's event loop). */
function cli(
  args: string[],
  key: string | null = t.key,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.INTENTQL_API_KEY;
  if (key !== null) env.INTENTQL_API_KEY = key;
  const endpoint = ["--endpoint", `${http.url}/graphql`];
  // `--endpoint` goes after the subcommand; help and usage cases pass no subcommand flags.
  const argv =
    args[0] === "keys" && args.length > 1 && !args.includes("--help") ? [...args, ...endpoint] : args;
  return runCli(argv, env);
}

const SCENARIOS = "{ scenarios }";
const CLASSIFY = `{ classify(texts: ["wake me up at nine"]) { intent { name } } }`;
const codes = (body: { errors?: { extensions?: { code?: string } }[] }) =>
  (body.errors ?? []).map((e) => e.extensions?.code);

async function createdKey(name: string, scopes: string): Promise<string> {
  const r = await cli(["keys", "create", "--name", name, "--scopes", scopes]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

// Each case spawns the CLI several times (tsx compiles it per process): allow for slow shared cores.
describe("intentql keys", { timeout: 90_000 }, () => {
  it("prints usage with --help and exits 0", async () => {
    const top = await cli(["keys", "--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/keys create --name NAME --scopes/);
    expect(top.stdout).toMatch(/keys list/);
    expect(top.stdout).toMatch(/keys revoke/);
    for (const sub of ["create", "list", "revoke"]) {
      const r = await cli(["keys", sub, "--help"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: intentql keys ${sub}`));
    }
    const main = await cli(["--help"]);
    expect(main.stdout).toMatch(/keys create/);
  });

  it("create prints only the key on stdout; it authenticates with exactly the scopes asked", async () => {
    const r = await cli(["keys", "create", "--name", "eval only", "--scopes", "eval"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^iql_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\n$/);
    expect(r.stderr).toMatch(/shown this once/);
    const key = r.stdout.trim();

    const ok = await t.gql(SCENARIOS, {}, { key });
    expect(ok.status).toBe(200);
    expect(ok.body.data.scenarios.length).toBeGreaterThan(0);
    const denied = await t.gql(CLASSIFY, {}, { key });
    expect(codes(denied.body)).toEqual(["FORBIDDEN"]);

    const json = await cli([
      "keys",
      "create",
      "--name",
      "app",
      "--scopes",
      "classify, eval,classify",
      "--json",
    ]);
    expect(json.code, json.stderr).toBe(0);
    const created = JSON.parse(json.stdout);
    expect(created.key).toMatch(KEY);
    expect(created.apiKey).toMatchObject({ id: KEY.exec(created.key)![1], name: "app", revokedAt: null });
    expect([...created.apiKey.scopes].sort()).toEqual(["classify", "eval"]);
    const classified = await t.gql(CLASSIFY, {}, { key: created.key });
    expect(classified.status).toBe(200);
    expect(classified.body.errors).toBeUndefined();
    expect(codes((await t.gql("{ apiKeys { id } }", {}, { key: created.key })).body)).toEqual(["FORBIDDEN"]);
  });

  it("list shows keys without their secrets; --all adds revoked ones", async () => {
    const key = await createdKey("listed", "classify");
    const [, id, secret] = KEY.exec(key)!;
    const table = await cli(["keys", "list"]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+SCOPES\s+CREATED\s+REVOKED$/);
    const row = lines.find((l) => l.startsWith(id!));
    expect(row).toMatch(new RegExp(`^${id}\\s+listed\\s+classify\\s+\\d{4}-\\d\\d-\\d\\d\\S*\\s+-$`));
    expect(table.stdout).not.toContain(secret);

    const json = await cli(["keys", "list", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).not.toContain(secret);
    const listed = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(listed.find((k) => k.id === id)).toEqual({
      id,
      name: "listed",
      scopes: ["classify"],
      createdAt: expect.any(String),
      revokedAt: null,
    });
    for (const k of listed)
      expect(Object.keys(k).sort()).toEqual(["createdAt", "id", "name", "revokedAt", "scopes"]);

    expect((await cli(["keys", "revoke", id!])).code).toBe(0);
    const active = JSON.parse((await cli(["keys", "list", "--json"])).stdout) as { id: string }[];
    expect(active.map((k) => k.id)).not.toContain(id);
    const all = await cli(["keys", "list", "--all"]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.split("\n").find((l) => l.startsWith(id!))).toMatch(/\d{4}-\d\d-\d\dT\S+Z$/);
  });

  it("list --first N shows the newest N keys", async () => {
    const newest = KEY.exec(await createdKey("newest", "classify"))![1];
    const one = JSON.parse((await cli(["keys", "list", "--json", "--first", "1"])).stdout) as {
      id: string;
    }[];
    expect(one.map((k) => k.id)).toEqual([newest]);
    const all = JSON.parse((await cli(["keys", "list", "--json", "--all"])).stdout) as unknown[];
    expect(all.length).toBeGreaterThan(1);
    expect((await cli(["keys", "list", "--first", "1001"])).code).toBe(2);
  });

  it("revoke takes an id or a whole key, prints the record, and the key gets 401 at once", async () => {
    const key = await createdKey("to revoke", "classify,eval");
    const id = KEY.exec(key)![1]!;
    expect((await t.gql(SCENARIOS, {}, { key })).status).toBe(200); // now cached by the edge

    const r = await cli(["keys", "revoke", key, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const record = JSON.parse(r.stdout);
    expect(record).toMatchObject({ id, name: "to revoke", revokedAt: expect.stringMatching(/Z$/) });
    expect(r.stderr).toMatch(/API_KEY_CACHE_TTL_MS \(30 s by default\)/);

    const after = await t.gql(SCENARIOS, {}, { key });
    expect(after.status).toBe(401);
    expect(codes(after.body)).toEqual(["UNAUTHENTICATED"]);
    const asRevoked = await cli(["keys", "list"], key);
    expect(asRevoked.code).toBe(1);
    expect(asRevoked.stderr).toMatch(/UNAUTHENTICATED/);

    const byId = await createdKey("by id", "eval");
    const table = await cli(["keys", "revoke", KEY.exec(byId)![1]!]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^ID .*\\n${KEY.exec(byId)![1]}\\s+by id\\s+eval\\s`));
    expect((await t.gql(SCENARIOS, {}, { key: byId })).status).toBe(401);

    const unknown = await cli(["keys", "revoke", "0123456789ab"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no API key 0123456789ab.*BAD_USER_INPUT/);
  });

  it("a key without the admin scope gets FORBIDDEN and exit 1", async () => {
    const plain = await createKey(t.db, ["classify", "eval"]);
    for (const args of [
      ["keys", "list"],
      ["keys", "create", "--name", "sneaky", "--scopes", "admin"],
    ]) {
      const r = await cli(args, plain);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/FORBIDDEN/);
    }
    const missing = await cli(["keys", "list"], null);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/set INTENTQL_API_KEY \(UNAUTHENTICATED\)/);
  });

  it("usage errors exit 2 and name the flag", async () => {
    const before = JSON.parse((await cli(["keys", "list", "--json", "--all"])).stdout).length;
    const root = await cli(["keys", "create", "--name", "x", "--scopes", "root"]);
    expect(root.code).toBe(2);
    expect(root.stdout).toBe("");
    expect(root.stderr).toMatch(/--scopes.*"root"/);
    for (const args of [
      ["keys", "create", "--scopes", "eval"], // no --name
      ["keys", "create", "--name", "x", "--scopes", ","],
      ["keys", "revoke", "not-a-key"],
      ["keys", "revoke"],
      ["keys", "list", "--bogus"],
      ["keys", "rotate"],
      ["keys"],
    ]) {
      const r = await cli(args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
    }
    expect(JSON.parse((await cli(["keys", "list", "--json", "--all"])).stdout).length).toBe(before);
  });
});

describe("intentql keys bootstrap (the first admin key of a new deployment)", { timeout: 90_000 }, () => {
  it("writes SQL with the key's hash only; once executed, the printed key is an admin key", async () => {
    const pepper = "a-deployment-pepper-of-at-least-32-characters";
    const edge = await startTestEdge(upstream.url, { pepper });
    try {
      const dir = mkdtempSync(join(tmpdir(), "intentql-bootstrap-"));
      const sql = join(dir, "first-key.sql");
      const r = await runCli(["keys", "bootstrap", "--sql", sql], { ...process.env, API_KEY_PEPPER: pepper });
      expect(r.code, r.stderr).toBe(0);
      const key = r.stdout.trim();
      expect(key).toMatch(KEY);
      const text = readFileSync(sql, "utf8");
      // The secret is the regex's, not key.split("_")[2]: base64url secrets may contain "_".
      expect(text).not.toContain(KEY.exec(key)![2]);
      for (const statement of text.trim().split("\n")) await edge.db.prepare(statement).run();
      const listed = await edge.gql("{ apiKeys { name scopes } }", undefined, { key });
      expect(listed.status).toBe(200);
      expect(listed.body.data.apiKeys).toContainEqual({
        name: "bootstrap admin",
        scopes: ["admin", "eval", "classify"],
      });
    } finally {
      await edge.dispose();
    }
  });

  it("refuses without the Worker's pepper (exit 2, says which variable)", async () => {
    const env = { ...process.env };
    delete env.API_KEY_PEPPER;
    const r = await runCli(["keys", "bootstrap", "--sql", join(tmpdir(), "never.sql")], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/API_KEY_PEPPER must be set/);
    expect(r.stdout).toBe("");
  });
});
