/**
 * Deploys the edge Worker to production with `wrangler deploy`, configured from Terraform's
 * `edge_deploy` output (infra/terraform/envs/prod/outputs.tf): the D1 database ID, the GPU upstream
 * URL, the model, CORS origins and introspection, and the AWS Secrets Manager secrets that become the
 * Worker's UPSTREAM_TOKEN and API_KEY_PEPPER. Why wrangler and not Terraform uploads the script:
 * infra/terraform/modules/edge/main.tf.
 *
 *   node --import tsx edge/scripts/deploy-worker.ts --terraform-dir infra/terraform/envs/prod
 *       applies pending D1 migrations (wrangler d1 migrations apply --remote), then deploys
 *     [--migrations-only]   only the D1 migrations
 *     [--dry-run]           build and check everything, upload nothing, read no secret
 *     [-- WRANGLER ARGS]    any wrangler command on the production config, e.g.
 *                           -- d1 execute intentql --remote --file first-key.sql
 *   (--outputs-file FILE instead of --terraform-dir: the `terraform output -json edge_deploy` JSON)
 *
 * edge/wrangler.toml stays the one description of the Worker (name, bindings, Durable Object
 * migrations, rate limits): the deploy config is that file with only the D1 database_id replaced
 * (and, with mutual TLS, the client certificate's binding added), written next to it (so its
 * relative paths hold) and removed afterwards. Production vars are passed
 * with --var; secrets go in a 0600 file given to --secrets-file, uploaded with the version itself and
 * deleted afterwards.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const EDGE = resolve(import.meta.dirname, "..");
export const WRANGLER_TOML = join(EDGE, "wrangler.toml");
/** Git-ignored; exists only while a deploy runs. */
export const DEPLOY_CONFIG = join(EDGE, ".wrangler.deploy.toml");
const MIN_SECRET_LENGTH = 32;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The binding the edge's upstream client presents the client certificate through (edge/src/env.ts). */
const MTLS_BINDING = "UPSTREAM_MTLS";

/** Terraform's `edge_deploy` output. */
export interface EdgeDeploy {
  account_id: string;
  worker_name: string;
  d1_database_name: string;
  d1_database_id: string;
  upstream_url: string;
  model: string;
  cors_origins: string[];
  introspection: boolean;
  aws_region: string;
  upstream_token_secret: string;
  api_key_pepper_secret: string;
  /** `wrangler mtls-certificate upload`'s ID for the Worker's client certificate; "" = no mTLS. */
  upstream_mtls_certificate_id: string;
}

export class DeployError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeployError";
  }
}

/** Validates the output's shape, so a stale or partial Terraform state stops the deploy here. */
export function parseEdgeDeploy(raw: unknown): EdgeDeploy {
  const o = raw as Record<string, unknown>;
  const strings = [
    "account_id",
    "worker_name",
    "d1_database_name",
    "d1_database_id",
    "upstream_url",
    "model",
    "aws_region",
    "upstream_token_secret",
    "api_key_pepper_secret",
  ] as const;
  if (typeof o !== "object" || o === null) throw new DeployError("edge_deploy output is missing");
  for (const k of strings)
    if (typeof o[k] !== "string" || o[k] === "")
      throw new DeployError(`edge_deploy.${k} must be a non-empty string (run terraform apply first?)`);
  if (!/^https:\/\//.test(o.upstream_url as string))
    throw new DeployError(`edge_deploy.upstream_url must use https://, got ${o.upstream_url}`);
  if (!Array.isArray(o.cors_origins) || o.cors_origins.some((c) => typeof c !== "string" || c === "*"))
    throw new DeployError("edge_deploy.cors_origins must be a list of origins, never *");
  if (typeof o.introspection !== "boolean")
    throw new DeployError("edge_deploy.introspection must be a boolean");
  // A state applied before mutual TLS existed has no such output: no mTLS, as then.
  const mtls = o.upstream_mtls_certificate_id ?? "";
  if (typeof mtls !== "string" || (mtls !== "" && !UUID.test(mtls)))
    throw new DeployError('edge_deploy.upstream_mtls_certificate_id must be "" or a certificate ID (a UUID)');
  return { ...o, upstream_mtls_certificate_id: mtls } as unknown as EdgeDeploy;
}

/**
 * wrangler.toml with its one `database_id` replaced, and with mutual TLS the client certificate's
 * `[[mtls_certificates]]` binding appended: everything else deploys as written.
 */
export function deployConfig(wranglerToml: string, deploy: EdgeDeploy): string {
  const name = /^name\s*=\s*"([^"]+)"/m.exec(wranglerToml)?.[1];
  if (name !== deploy.worker_name)
    throw new DeployError(`edge/wrangler.toml names the Worker ${name}, Terraform ${deploy.worker_name}`);
  const dbName = /^database_name\s*=\s*"([^"]+)"/m.exec(wranglerToml)?.[1];
  if (dbName !== deploy.d1_database_name)
    throw new DeployError(
      `edge/wrangler.toml's D1 database is ${dbName}, Terraform's ${deploy.d1_database_name}`,
    );
  const ids = wranglerToml.match(/^database_id\s*=\s*"[^"]*"/gm) ?? [];
  if (ids.length !== 1)
    throw new DeployError(`edge/wrangler.toml must have one database_id, has ${ids.length}`);
  if (!/^[0-9a-f-]{32,36}$/.test(deploy.d1_database_id))
    throw new DeployError(`edge_deploy.d1_database_id is not a D1 ID: ${deploy.d1_database_id}`);
  if (/^\[\[mtls_certificates\]\]/m.test(wranglerToml))
    throw new DeployError(
      "edge/wrangler.toml must not bind mTLS certificates: the deploy adds the upstream's",
    );
  const config = wranglerToml.replace(
    /^database_id\s*=\s*"[^"]*"/m,
    `database_id = "${deploy.d1_database_id}"`,
  );
  if (deploy.upstream_mtls_certificate_id === "") return config;
  return `${config.trimEnd()}\n\n# Added by edge/scripts/deploy-worker.ts: the client certificate the GPU fleet requires.\n[[mtls_certificates]]\nbinding = "${MTLS_BINDING}"\ncertificate_id = "${deploy.upstream_mtls_certificate_id}"\n`;
}

/** The production [vars] that differ from wrangler.toml's development defaults. */
export function productionVars(deploy: EdgeDeploy): Record<string, string> {
  return {
    UPSTREAM_URL: deploy.upstream_url,
    MODEL: deploy.model,
    CORS_ORIGINS: deploy.cors_origins.join(","),
    INTROSPECTION: deploy.introspection ? "on" : "off",
    ENVIRONMENT: "production",
    UPSTREAM_MTLS_REQUIRED: deploy.upstream_mtls_certificate_id === "" ? "off" : "on",
  };
}

function readSecret(id: string, region: string): string {
  const value = execFileSync(
    "aws",
    [
      "secretsmanager",
      "get-secret-value",
      "--region",
      region,
      "--secret-id",
      id,
      "--query",
      "SecretString",
      "--output",
      "text",
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  ).trim();
  if (value.length < MIN_SECRET_LENGTH)
    throw new DeployError(`secret ${id} holds ${value.length} characters, fewer than ${MIN_SECRET_LENGTH}`);
  return value;
}

/** Runs `npx wrangler ARGS` from edge/ against the production account. */
function wrangler(args: string[], accountId: string): void {
  const r = spawnSync("npx", ["wrangler", ...args], {
    cwd: EDGE,
    stdio: "inherit",
    env: { ...process.env, CLOUDFLARE_ACCOUNT_ID: accountId, WRANGLER_SEND_METRICS: "false" },
  });
  if (r.status !== 0) throw new DeployError(`wrangler ${args[0]} exited with ${r.status ?? r.signal}`);
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      "terraform-dir": { type: "string" },
      "outputs-file": { type: "string" },
      "dry-run": { type: "boolean", default: false },
      "migrations-only": { type: "boolean", default: false },
      outdir: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const raw = values["outputs-file"]
    ? JSON.parse(readFileSync(values["outputs-file"], "utf8"))
    : values["terraform-dir"]
      ? JSON.parse(
          execFileSync("terraform", [`-chdir=${values["terraform-dir"]}`, "output", "-json", "edge_deploy"], {
            encoding: "utf8",
          }),
        )
      : (() => {
          throw new DeployError("give --terraform-dir DIR or --outputs-file FILE");
        })();
  const deploy = parseEdgeDeploy(raw);
  writeFileSync(DEPLOY_CONFIG, deployConfig(readFileSync(WRANGLER_TOML, "utf8"), deploy));
  const secretsDir = mkdtempSync(join(tmpdir(), "intentql-deploy-"));
  try {
    // `-- d1 execute intentql --remote --file x.sql`: any wrangler command, on the production config.
    if (positionals.length > 0) {
      wrangler([...positionals, "--config", DEPLOY_CONFIG], deploy.account_id);
      return;
    }
    if (values["dry-run"]) {
      const args = ["deploy", "--config", DEPLOY_CONFIG, ...varArgs(deploy)];
      wrangler(
        [...args, "--dry-run", "--outdir", values.outdir ?? join(secretsDir, "out")],
        deploy.account_id,
      );
      return;
    }
    // Secrets first: a missing or short one stops the deploy before anything remote changes.
    const secrets = join(secretsDir, "secrets.json");
    if (!values["migrations-only"])
      writeFileSync(
        secrets,
        JSON.stringify({
          UPSTREAM_TOKEN: readSecret(deploy.upstream_token_secret, deploy.aws_region),
          API_KEY_PEPPER: readSecret(deploy.api_key_pepper_secret, deploy.aws_region),
        }),
        { mode: 0o600 },
      );
    // Migrations are additive (docs/DEPLOY.md): applied before the code that needs them goes live.
    wrangler(
      ["d1", "migrations", "apply", deploy.d1_database_name, "--remote", "--config", DEPLOY_CONFIG],
      deploy.account_id,
    );
    if (values["migrations-only"]) return;
    wrangler(
      ["deploy", "--config", DEPLOY_CONFIG, ...varArgs(deploy), "--secrets-file", secrets],
      deploy.account_id,
    );
  } finally {
    rmSync(secretsDir, { recursive: true, force: true });
    rmSync(DEPLOY_CONFIG, { force: true });
  }
}

const USAGE = `npm run deploy:edge -- --terraform-dir infra/terraform/envs/prod
    applies pending D1 migrations (wrangler d1 migrations apply --remote), then deploys the Worker
  --outputs-file FILE   instead of --terraform-dir: the \`terraform output -json edge_deploy\` JSON
  --migrations-only     only the D1 migrations
  --dry-run             build and check everything, upload nothing, read no secret
  -- WRANGLER ARGS      any wrangler command on the production config, e.g.
                        -- d1 execute intentql --remote --file first-key.sql
docs/DEPLOY.md has the whole procedure.`;

const varArgs = (deploy: EdgeDeploy): string[] =>
  Object.entries(productionVars(deploy)).flatMap(([k, v]) => ["--var", `${k}:${v}`]);

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`deploy-worker: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
