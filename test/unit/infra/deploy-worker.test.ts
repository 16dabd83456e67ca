/**
 * edge/scripts/deploy-worker.ts: the production Worker is edge/wrangler.toml with Terraform's D1 ID,
 * production vars and secrets from Secrets Manager. The dry run goes through the real wrangler; the
 * upload path runs against fake `aws` and `npx` commands that record what they were given.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  DEPLOY_CONFIG,
  DeployError,
  deployConfig,
  type EdgeDeploy,
  parseEdgeDeploy,
  productionVars,
  WRANGLER_TOML,
} from "../../../edge/scripts/deploy-worker.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const SCRIPT = join(ROOT, "edge/scripts/deploy-worker.ts");
const DEPLOY: EdgeDeploy = {
  account_id: "0123456789abcdef0123456789abcdef",
  worker_name: "intentql-edge",
  d1_database_name: "intentql",
  d1_database_id: "11111111-2222-3333-4444-555555555555",
  upstream_url: "https://gpu.example.com",
  model: "massive-scratch",
  cors_origins: ["https://app.example.com", "https://admin.example.com"],
  introspection: false,
  aws_region: "us-east-1",
  upstream_token_secret: "intentql/upstream-token",
  api_key_pepper_secret: "intentql/api-key-pepper",
  upstream_mtls_certificate_id: "",
};
/** The same deploy with mutual TLS to the GPU fleet: the Worker's client certificate. */
const MTLS: EdgeDeploy = { ...DEPLOY, upstream_mtls_certificate_id: "a1b2c3d4-e5f6-4a1b-8c2d-0123456789ab" };
const work = mkdtempSync(join(tmpdir(), "deploy-worker-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const outputs = (deploy: object) => {
  const f = join(work, `outputs-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, JSON.stringify(deploy));
  return f;
};

describe("deploy config", () => {
  const toml = readFileSync(WRANGLER_TOML, "utf8");

  it("is wrangler.toml with only the D1 database_id replaced", () => {
    const config = deployConfig(toml, DEPLOY);
    expect(config).toContain(`database_id = "${DEPLOY.d1_database_id}"`);
    const diff = toml.split("\n").filter((line, i) => config.split("\n")[i] !== line);
    expect(diff).toEqual([expect.stringMatching(/^database_id = /)]);
  });

  it("with mutual TLS, also binds the client certificate as UPSTREAM_MTLS, and nothing else changes", () => {
    const config = deployConfig(toml, MTLS);
    const plain = deployConfig(toml, DEPLOY);
    expect(config.startsWith(plain.trimEnd())).toBe(true);
    expect(config.slice(plain.trimEnd().length)).toMatch(
      /^\n\n# [^\n]*\n\[\[mtls_certificates\]\]\nbinding = "UPSTREAM_MTLS"\ncertificate_id = "a1b2c3d4-e5f6-4a1b-8c2d-0123456789ab"\n$/,
    );
    expect(productionVars(MTLS).UPSTREAM_MTLS_REQUIRED).toBe("on");
    expect(productionVars(DEPLOY).UPSTREAM_MTLS_REQUIRED).toBe("off");
    // wrangler.toml binding certificates of its own would be a second, unreviewed path to the fleet
    expect(() =>
      deployConfig(`${toml}\n[[mtls_certificates]]\nbinding = "X"\ncertificate_id = "y"\n`, MTLS),
    ).toThrow(/must not bind mTLS certificates/);
  });

  it("refuses a Worker or database name that differs from wrangler.toml, and a bad ID", () => {
    expect(() => deployConfig(toml, { ...DEPLOY, worker_name: "intentql" })).toThrow(
      /names the Worker intentql-edge/,
    );
    expect(() => deployConfig(toml, { ...DEPLOY, d1_database_name: "other" })).toThrow(DeployError);
    expect(() => deployConfig(toml, { ...DEPLOY, d1_database_id: '1"\nmain = "evil.js' })).toThrow(
      /not a D1 ID/,
    );
  });

  it("production vars: upstream from Terraform, CORS origins listed, introspection off", () => {
    expect(productionVars(DEPLOY)).toEqual({
      UPSTREAM_URL: "https://gpu.example.com",
      MODEL: "massive-scratch",
      CORS_ORIGINS: "https://app.example.com,https://admin.example.com",
      INTROSPECTION: "off",
      ENVIRONMENT: "production",
      UPSTREAM_MTLS_REQUIRED: "off",
    });
  });

  it("refuses outputs that are missing, not https, or open CORS to everyone", () => {
    expect(() => parseEdgeDeploy(undefined)).toThrow(/missing/);
    expect(() => parseEdgeDeploy({ ...DEPLOY, d1_database_id: "" })).toThrow(/d1_database_id/);
    expect(() => parseEdgeDeploy({ ...DEPLOY, upstream_url: "http://gpu.example.com" })).toThrow(/https/);
    expect(() => parseEdgeDeploy({ ...DEPLOY, cors_origins: ["*"] })).toThrow(/never \*/);
    expect(parseEdgeDeploy(DEPLOY)).toEqual(DEPLOY);
    expect(parseEdgeDeploy(MTLS)).toEqual(MTLS);
    const { upstream_mtls_certificate_id: _, ...stale } = DEPLOY; // a state from before mTLS existed
    expect(parseEdgeDeploy(stale)).toEqual(DEPLOY);
    for (const bad of ['x"\nmain = "evil.js', 42, "A1B2C3D4-E5F6-4A1B-8C2D-0123456789AB "])
      expect(() => parseEdgeDeploy({ ...DEPLOY, upstream_mtls_certificate_id: bad })).toThrow(
        /upstream_mtls_certificate_id/,
      );
  });
});

describe("deploy-worker.ts", () => {
  it("dry run: real wrangler builds the Worker with D1, Durable Objects, rate limits and the mTLS certificate, and cleans up", () => {
    const out = join(work, "dry");
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", SCRIPT, "--outputs-file", outputs(MTLS), "--dry-run", "--outdir", out],
      {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    for (const binding of [
      "env.DB (intentql)",
      "env.KEY_REQUESTS",
      "env.ANON_REQUESTS",
      "env.EVAL_RUNNER",
      "env.TEXT_QUOTA",
      "env.SUBSCRIPTION_LEASES",
      "env.UPSTREAM_MTLS",
    ])
      expect(r.stdout).toContain(binding);
    expect(r.stdout).toContain(MTLS.upstream_mtls_certificate_id);
    expect(existsSync(join(out, "worker.js"))).toBe(true);
    expect(existsSync(DEPLOY_CONFIG)).toBe(false);
  });

  it("upload: secrets from Secrets Manager go to wrangler in a 0600 file that is gone afterwards", () => {
    const bin = join(work, "bin");
    mkdirSync(bin, { recursive: true });
    const seen = join(work, "seen");
    const fake = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    fake(
      "aws",
      `for a in "$@"; do case "$a" in intentql/upstream-token) echo "${"u".repeat(40)}";; intentql/api-key-pepper) echo "${"p".repeat(48)}";; esac; done`,
    );
    // npx wrangler deploy …: record the arguments, the secrets file's mode and content, and the config.
    fake(
      "npx",
      `echo "$*" >> "${seen}.calls"; [ "$2" = deploy ] || exit 0
printf '%s\\n' "$@" > "${seen}.args"
prev=""; for a in "$@"; do [ "$prev" = --secrets-file ] && { stat -c %a "$a" > "${seen}.mode"; cp "$a" "${seen}.secrets"; echo "$a" > "${seen}.path"; }; [ "$prev" = --config ] && cp "$a" "${seen}.config"; prev="$a"; done
echo "account=$CLOUDFLARE_ACCOUNT_ID" > "${seen}.env"`,
    );
    const r = spawnSync(process.execPath, ["--import", "tsx", SCRIPT, "--outputs-file", outputs(DEPLOY)], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(r.status, r.stderr).toBe(0);
    const args = readFileSync(`${seen}.args`, "utf8").trim().split("\n");
    expect(args.slice(0, 2)).toEqual(["wrangler", "deploy"]);
    expect(args).toContain("UPSTREAM_URL:https://gpu.example.com");
    expect(args).toContain("INTROSPECTION:off");
    expect(args).not.toContain("--dry-run");
    expect(readFileSync(`${seen}.mode`, "utf8").trim()).toBe("600");
    expect(JSON.parse(readFileSync(`${seen}.secrets`, "utf8"))).toEqual({
      UPSTREAM_TOKEN: "u".repeat(40),
      API_KEY_PEPPER: "p".repeat(48),
    });
    expect(args.join(" ")).not.toContain("u".repeat(40));
    expect(existsSync(readFileSync(`${seen}.path`, "utf8").trim())).toBe(false);
    // D1 migrations first, on the production config, then the upload.
    const calls = readFileSync(`${seen}.calls`, "utf8").trim().split("\n");
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatch(
      /^wrangler d1 migrations apply intentql --remote --config \S+\.wrangler\.deploy\.toml$/,
    );
    expect(calls[1]).toMatch(/^wrangler deploy /);
    expect(readFileSync(`${seen}.config`, "utf8")).toContain(`database_id = "${DEPLOY.d1_database_id}"`);
    expect(readFileSync(`${seen}.env`, "utf8").trim()).toBe(`account=${DEPLOY.account_id}`);
    expect(existsSync(DEPLOY_CONFIG)).toBe(false);
  });

  it("refuses a secret shorter than 32 characters before anything is uploaded", () => {
    const bin = join(work, "bin-short");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "aws"), "#!/bin/bash\necho short\n");
    writeFileSync(join(bin, "npx"), `#!/bin/bash\ntouch "${work}/npx-ran"\n`);
    chmodSync(join(bin, "aws"), 0o755);
    chmodSync(join(bin, "npx"), 0o755);
    const r = spawnSync(process.execPath, ["--import", "tsx", SCRIPT, "--outputs-file", outputs(DEPLOY)], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/secret intentql\/upstream-token holds 5 characters, fewer than 32/);
    expect(existsSync(join(work, "npx-ran"))).toBe(false);
  });

  it("--migrations-only applies D1 migrations only; `-- ARGS` runs any wrangler command on the production config", () => {
    const bin = join(work, "bin-pass");
    mkdirSync(bin, { recursive: true });
    const calls = join(work, "pass-calls");
    writeFileSync(join(bin, "npx"), `#!/bin/bash\necho "$*" >> "${calls}"\n`);
    writeFileSync(join(bin, "aws"), `#!/bin/bash\necho "aws $*" >> "${calls}"\n`);
    chmodSync(join(bin, "npx"), 0o755);
    chmodSync(join(bin, "aws"), 0o755);
    const run = (extra: string[]) =>
      spawnSync(process.execPath, ["--import", "tsx", SCRIPT, "--outputs-file", outputs(DEPLOY), ...extra], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      });
    expect(run(["--migrations-only"]).status).toBe(0);
    expect(run(["--", "d1", "execute", "intentql", "--remote", "--file", "first-key.sql"]).status).toBe(0);
    const lines = readFileSync(calls, "utf8").trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^wrangler d1 migrations apply intentql --remote --config \S+\.wrangler\.deploy\.toml$/,
    );
    expect(lines[1]).toMatch(
      /^wrangler d1 execute intentql --remote --file first-key\.sql --config \S+\.wrangler\.deploy\.toml$/,
    );
    expect(existsSync(DEPLOY_CONFIG)).toBe(false);
  });
});
