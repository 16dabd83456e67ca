/**
 * What makes a real deploy safe, checked offline (docs/DEPLOY.md, go-live checklist for the rest):
 * pinned providers and AMI, Durable Object migrations sent once, a GPU fleet that fails closed on a
 * missing token and fails the apply when it cannot turn healthy, the listener's Host check, DNS and
 * certificate in code, scaling on requests in flight, alarms, and production-only Worker settings.
 * Where a terraform binary exists, the migration selection is evaluated by Terraform itself and the
 * user data is rendered and run against fake aws/docker/curl commands (and the real gpg, which checks
 * the CloudWatch agent's signature).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parse } from "@cdktf/hcl2json";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../../..");
const TF = join(ROOT, "infra/terraform");
/** hcl2json output: untyped nested blocks. */
type Hcl = Record<string, any>;
const hcl = async (file: string): Promise<Hcl> =>
  (await parse(relative(ROOT, file), readFileSync(file, "utf8"))) as Hcl;
const ref = (expression: string) => `\${${expression}}`;

const terraformBin = spawnSync("terraform", ["version"], { encoding: "utf8" }).status === 0;
if (!terraformBin)
  console.log("Terraform evaluation checks skipped (migrations, user data run): no terraform binary on PATH");
const gpgBin = ["gpg", "gpgv", "gpg-agent", "dpkg", "dpkg-deb"].every(
  (bin) => spawnSync(bin, ["--version"], { encoding: "utf8" }).status === 0,
);
// Like the browser test: skipped without gnupg (or dpkg, on a machine that is not Debian's) on a
// developer's machine, failing without them in CI.
const gpgSkip = !gpgBin && !process.env.CI;
if (terraformBin && gpgSkip)
  console.log(
    "CloudWatch agent signature checks skipped: gpg, gpgv, gpg-agent, dpkg or dpkg-deb is not on PATH (.ci/run installs gnupg)",
  );
/** The real dpkg, for the fake one to hand version comparisons to. */
const REAL_DPKG = spawnSync("sh", ["-c", "command -v dpkg"], { encoding: "utf8" }).stdout.trim();
/** The gpu module's default floor for the CloudWatch agent's version. */
const AGENT_FLOOR = "1.300064.0";
/** The key AWS signs the CloudWatch agent with (the gpu module's default). */
const AWS_AGENT_KEY = "937616F3450B7D806CBD9725D58167303B789C72";

/** `terraform apply` of a root module that only has outputs: evaluates HCL without any provider. */
function evaluate(dir: string, vars: string[] = []): Record<string, unknown> {
  const env = { ...process.env, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" };
  execFileSync("terraform", ["init", "-backend=false", "-input=false"], { cwd: dir, env, stdio: "ignore" });
  execFileSync("terraform", ["apply", "-auto-approve", "-input=false", ...vars], {
    cwd: dir,
    env,
    stdio: "ignore",
  });
  const out = JSON.parse(execFileSync("terraform", ["output", "-json"], { cwd: dir, env, encoding: "utf8" }));
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, (v as { value: unknown }).value]));
}

/**
 * A root module, in a new folder under `parent`, holding the given `variable` blocks as the repo
 * declares them (type, default, validations) and an output of each, so that Terraform evaluates
 * their validations against -var values.
 */
function variablesRoot(parent: string, variables: { file: string; name: string }[]): string {
  const dir = mkdtempSync(join(parent, "variables-"));
  const blocks = variables.map(
    ({ file, name }) =>
      readFileSync(join(TF, file), "utf8").match(
        new RegExp(`^variable "${name}" \\{[\\s\\S]*?^\\}$`, "m"),
      )![0],
  );
  const outputs = variables.map(({ name }) => `output "${name}" { value = var.${name} }`);
  writeFileSync(join(dir, "root.tf"), [...blocks, ...outputs].join("\n"));
  return dir;
}

describe("providers and Terraform are pinned", () => {
  it("every versions.tf pins providers exactly and needs Terraform >= 1.10 (use_lockfile)", async () => {
    for (const dir of ["envs/prod", "modules/edge", "modules/gpu"]) {
      const t = (await hcl(join(TF, dir, "versions.tf"))).terraform[0];
      expect(t.required_version, dir).toBe(">= 1.10");
      for (const [name, p] of Object.entries(t.required_providers[0] as Record<string, { version: string }>))
        expect(p.version, `${dir} ${name}`).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it("the GPU AMI is an ID variable, never an SSM 'latest' lookup", async () => {
    const asg = await hcl(join(TF, "modules/gpu/asg.tf"));
    expect(asg.resource.aws_launch_template.gpu[0].image_id).toBe(ref("var.ami_id"));
    const all = ["main.tf", "asg.tf", "iam.tf", "dns.tf", "alarms.tf"].map((f) =>
      readFileSync(join(TF, "modules/gpu", f), "utf8"),
    );
    expect(all.join("\n")).not.toMatch(/aws_ssm_parameter|latest\/ami-id/);
  });
});

describe("Worker: deployed by wrangler from edge/wrangler.toml, one name, production settings", () => {
  it("Terraform uploads no Worker script, so it never re-sends a Durable Object migration", () => {
    const tf = ["main.tf", "variables.tf", "outputs.tf"].map((f) =>
      readFileSync(join(TF, "modules/edge", f), "utf8"),
    );
    expect(tf.join("\n")).not.toMatch(/resource "cloudflare_workers_script"|migrations\s*=/);
  });

  it("the Worker name is edge/wrangler.toml's in the custom domain, the deploy output and the deploy script", async () => {
    const toml = readFileSync(join(ROOT, "edge/wrangler.toml"), "utf8");
    const name = /^name = "([^"]+)"/m.exec(toml)?.[1];
    const vars = await hcl(join(TF, "modules/edge/variables.tf"));
    expect(vars.variable.worker_name[0].default).toBe(name);
    const main = await hcl(join(TF, "modules/edge/main.tf"));
    expect(main.resource.cloudflare_workers_custom_domain.api[0].service).toBe(ref("var.worker_name"));
    const prod = await hcl(join(TF, "envs/prod/outputs.tf"));
    expect(prod.output.edge_deploy[0].value).toMatchObject({ worker_name: ref("module.edge.worker_name") });
  });

  it("production: CORS origins from a variable (never *), introspection off, upstream URL from the gpu module", async () => {
    const deploy = (await hcl(join(TF, "envs/prod/outputs.tf"))).output.edge_deploy[0].value;
    expect(deploy).toMatchObject({
      cors_origins: ref("var.cors_origins"),
      introspection: false,
      upstream_url: ref("module.gpu.upstream_url"),
      d1_database_id: ref("module.edge.d1_database_id"),
    });
    const vars = await hcl(join(TF, "envs/prod/variables.tf"));
    expect(vars.variable.cors_origins[0].validation[0].condition).toMatch(/\^https:/);
    expect(vars.variable.cors_origins[0]).not.toHaveProperty("default");
  });
});

describe("GPU fleet: healthy or the apply fails, Host checked, DNS and certificate in Cloudflare", () => {
  let main: Hcl;
  let asg: Hcl;
  let dns: Hcl;
  beforeAll(async () => {
    main = await hcl(join(TF, "modules/gpu/main.tf"));
    asg = await hcl(join(TF, "modules/gpu/asg.tf"));
    dns = await hcl(join(TF, "modules/gpu/dns.tf"));
  });

  it("terraform apply waits for min_size instances healthy behind the ALB", () => {
    const group = asg.resource.aws_autoscaling_group.gpu[0];
    expect(group.wait_for_elb_capacity).toBe(ref("var.min_size"));
    expect(group.health_check_type).toBe("ELB");
  });

  it("the listener forwards /v2 only for the GPU hostname; Triton also needs the bearer header", () => {
    const rule = main.resource.aws_lb_listener_rule.v2[0];
    const conditions = rule.condition as Hcl[];
    expect(conditions.find((c) => c.host_header)?.host_header[0].values).toEqual([ref("var.hostname")]);
    expect(conditions.find((c) => c.path_pattern)?.path_pattern[0].values).toEqual(["/v2", "/v2/*"]);
    const header = rule.dynamic.condition[0];
    expect(header.for_each).toMatch(/local\.is_triton/);
    expect(header.content[0].http_header[0].http_header_name).toBe("Authorization");
    expect(main.resource.aws_lb_listener.https[0].default_action[0].type).toBe("fixed-response");
  });

  it("with a client CA, the listener verifies client certificates against a trust store of it (mutual TLS)", async () => {
    const mtls = main.resource.aws_lb_listener.https[0].dynamic.mutual_authentication[0];
    expect(mtls.for_each).toMatch(/local\.mtls/);
    expect(mtls.content[0]).toMatchObject({
      mode: "verify",
      trust_store_arn: ref("aws_lb_trust_store.clients[0].arn"),
    });
    const store = main.resource.aws_lb_trust_store.clients[0];
    expect(store.count).toMatch(/local\.mtls \? 1 : 0/);
    expect(store.ca_certificates_bundle_s3_key).toMatch(/var\.client_ca_bundle_s3_uri/);
    expect(main.locals[0].mtls).toBe(ref('var.client_ca_bundle_s3_uri != ""'));
    const prod = await hcl(join(TF, "envs/prod/main.tf"));
    expect(prod.module.gpu[0].client_ca_bundle_s3_uri).toBe(ref("var.upstream_client_ca_bundle_s3_uri"));
    const outputs = await hcl(join(TF, "envs/prod/outputs.tf"));
    expect(outputs.output.edge_deploy[0].value.upstream_mtls_certificate_id).toBe(
      ref("var.upstream_mtls_certificate_id"),
    );
  });

  it("the certificate is validated through Cloudflare records, the hostname is a DNS-only CNAME to the ALB", () => {
    const validation = dns.resource.cloudflare_dns_record.acm_validation[0];
    expect(validation.proxied).toBe(false);
    expect(validation.for_each).toMatch(/aws_acm_certificate\.gpu\.domain_validation_options/);
    expect(dns.resource.aws_acm_certificate_validation.gpu[0].validation_record_fqdns).toMatch(
      /cloudflare_dns_record\.acm_validation/,
    );
    const record = dns.resource.cloudflare_dns_record.gpu[0];
    expect(record).toMatchObject({ type: "CNAME", proxied: false, content: ref("aws_lb.gpu.dns_name") });
    expect(main.resource.aws_lb_listener.https[0].certificate_arn).toBe(
      ref("aws_acm_certificate_validation.gpu.certificate_arn"),
    );
    const outputs = readFileSync(join(TF, "modules/gpu/outputs.tf"), "utf8");
    expect(outputs).toMatch(/value\s*=\s*"https:\/\/\$\{cloudflare_dns_record\.gpu\.name\}"/);
    expect(readFileSync(join(TF, "modules/gpu/main.tf"), "utf8")).not.toMatch(/aws_route53_record/);
  });

  it("scales on requests in flight as well as on queued rows, and publishes both from the agent", () => {
    const policies = asg.resource.aws_autoscaling_policy;
    const inflight = policies.inflight[0].target_tracking_configuration[0].customized_metric_specification[0];
    expect(inflight.metric_name).toBe(ref("local.inflight_metric"));
    expect(
      policies.queue_rows[0].target_tracking_configuration[0].customized_metric_specification[0].metric_name,
    ).toBe("intentql_queue_rows");
    expect(readFileSync(join(TF, "modules/gpu/main.tf"), "utf8")).toMatch(
      /inflight_metric\s*=\s*local\.is_triton \? "nv_inference_pending_request_count" : "intentql_inflight_requests"/,
    );
    const metrics = readFileSync(join(ROOT, "gpu-service/src/metrics.ts"), "utf8");
    expect(metrics).toMatch(/name: "intentql_inflight_requests"/);
  });

  it("alarms on 5xx, unhealthy and missing hosts, p99 latency and GPU utilisation (agent collects nvidia_gpu)", async () => {
    const alarms = (await hcl(join(TF, "modules/gpu/alarms.tf"))).resource.aws_cloudwatch_metric_alarm as Hcl;
    expect(Object.keys(alarms).sort()).toEqual([
      "gpu_utilization",
      "http_5xx",
      "no_healthy_hosts",
      "p99_latency",
      "unhealthy_hosts",
    ]);
    expect(alarms.p99_latency[0].extended_statistic).toBe("p99");
    expect(alarms.gpu_utilization[0].metric_name).toBe("nvidia_smi_utilization_gpu");
    for (const [name, [a]] of Object.entries(alarms) as [string, Hcl[]][])
      expect(a!.alarm_actions, name).toBe(ref("local.alarm_actions"));
    const userData = readFileSync(join(TF, "modules/gpu/user_data.sh.tftpl"), "utf8");
    expect(userData).toMatch(/"nvidia_gpu": \{/);
    expect(userData).toMatch(/"utilization_gpu"/);
  });
});

describe.skipIf(!terraformBin)("mutual TLS settings, evaluated by Terraform", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "tf-mtls-"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const CA = "s3://my-intentql-models/mtls/clients-ca.pem";
  const CERT = "a1b2c3d4-e5f6-4a1b-8c2d-0123456789ab";

  it("prod: the CA bundle and the Worker's certificate go together, the certificate ID is a UUID", () => {
    const dir = variablesRoot(
      work,
      ["upstream_client_ca_bundle_s3_uri", "upstream_mtls_certificate_id"].map((name) => ({
        file: "envs/prod/variables.tf",
        name,
      })),
    );
    const set = (ca: string, cert: string) => [
      "-var",
      `upstream_client_ca_bundle_s3_uri=${ca}`,
      "-var",
      `upstream_mtls_certificate_id=${cert}`,
    ];
    expect(evaluate(dir)).toEqual({ upstream_client_ca_bundle_s3_uri: "", upstream_mtls_certificate_id: "" });
    expect(evaluate(dir, set(CA, CERT)).upstream_mtls_certificate_id).toBe(CERT);
    expect(() => evaluate(dir, set(CA, ""))).toThrow();
    expect(() => evaluate(dir, set("", CERT))).toThrow();
    expect(() => evaluate(dir, set(CA, "not-a-certificate-id"))).toThrow();
  });

  it("gpu module: the CA bundle is an s3://bucket/key", () => {
    const dir = variablesRoot(work, [{ file: "modules/gpu/variables.tf", name: "client_ca_bundle_s3_uri" }]);
    expect(evaluate(dir, ["-var", `client_ca_bundle_s3_uri=${CA}`]).client_ca_bundle_s3_uri).toBe(CA);
    for (const bad of ["https://example.com/ca.pem", "s3://bucket-only/", "s3://Bad_Bucket/ca.pem"])
      expect(() => evaluate(dir, ["-var", `client_ca_bundle_s3_uri=${bad}`])).toThrow();
  });
});

describe("GPU user data fails closed", () => {
  const template = readFileSync(join(TF, "modules/gpu/user_data.sh.tftpl"), "utf8");

  it("reads the token in its own statement (set -e applies), with retries, and refuses a short one", () => {
    expect(template).toMatch(/^set -euo pipefail$/m);
    expect(template).not.toMatch(/printf[^\n]*\$\(aws secretsmanager/);
    expect(template).toMatch(/^UPSTREAM_TOKEN="\$\(read_secret '\$\{token_secret_arn\}'\)" \|\| \{/m);
    expect(template).toMatch(/"\$\$\{#UPSTREAM_TOKEN\}" -lt 32/);
  });

  describe.skipIf(!terraformBin)("rendered by Terraform and run against fake aws, docker and curl", () => {
    let work: string;
    const render = (
      nextArn: string,
      bundleS3Uri = "",
      bundleSha256 = "",
      runtime = "gpu-service",
      agentKey = AWS_AGENT_KEY,
      agentFloor = AGENT_FLOOR,
    ): string => {
      const dir = mkdtempSync(join(work, "render-"));
      writeFileSync(join(dir, "user_data.sh.tftpl"), template);
      writeFileSync(
        join(dir, "root.tf"),
        `output "user_data" {
  value = templatefile("user_data.sh.tftpl", {
    region = "us-east-1", image = "registry.example/intentql-gpu:1", registry = "registry.example", is_ecr = false,
    runtime = "${runtime}", bundle_s3_uri = "${bundleS3Uri}", bundle_sha256 = "${bundleSha256}",
    bundle_name = "massive-scratch", container_port = 8500,
    gpu_env = { GPU_PORT = "8500", NODE_ENV = "production" },
    token_secret_arn = "arn:aws:secretsmanager:us-east-1:1:secret:current", next_token_secret_arn = "${nextArn}",
    triton_command = ["tritonserver", "--model-repository=/models"], triton_env = { TRITON_LOG = "1" },
    triton_http_port = 8000, triton_metrics_port = 8002,
    metrics_port = 8500, scraped_metrics = ["intentql_queue_rows", "intentql_inflight_requests"],
    asg_name = "intentql-gpu-asg", metrics_namespace = "IntentQL/GPU", log_group = "/intentql/gpu",
    cloudwatch_agent_key_fingerprint = "${agentKey}", cloudwatch_agent_min_version = "${agentFloor}"
  })
}
`,
      );
      return evaluate(dir).user_data as string;
    };

    /**
     * Runs the rendered script with /opt and /var/log moved under a sandbox and fakes first on PATH.
     * `agentFrom`: no CloudWatch agent on the "AMI"; curl serves its download from that folder, and
     * dpkg -i installs a fake one (dpkg --compare-versions and dpkg-deb are the real ones).
     */
    const run = (script: string, secrets: Record<string, string[]>, agentFrom?: string) => {
      const box = mkdtempSync(join(work, "box-"));
      writeFileSync(join(box, "s3-bundle.json"), BUNDLE_JSON);
      const bin = join(box, "bin");
      mkdirSync(bin);
      const agent = join(box, "opt/aws/amazon-cloudwatch-agent/bin");
      mkdirSync(agent, { recursive: true });
      const fake = (path: string, body: string) => {
        writeFileSync(path, `#!/bin/bash\n${body}\n`);
        chmodSync(path, 0o755);
      };
      const agentCtl = `echo "agent $*" >> "${box}/calls"`;
      // aws: each secretsmanager call for an ARN takes the next scripted answer ("!fail" = exit 255).
      for (const [arn, answers] of Object.entries(secrets))
        writeFileSync(join(box, `answers-${arn.split(":").at(-1)}`), `${answers.join("\n")}\n`);
      fake(
        join(bin, "aws"),
        `echo "aws $*" >> "${box}/calls"
if [ "$1" = secretsmanager ]; then
  for a in "$@"; do case "$a" in arn:*) arn="$a";; esac; done
  f="${box}/answers-\${arn##*:}"
  line=$(head -n1 "$f"); tail -n +2 "$f" > "$f.rest" && mv "$f.rest" "$f"
  [ "$line" = "!fail" ] && exit 255
  printf '%s\\n' "$line"
fi
# s3 sync SRC DEST: the bucket holds one bundle.json whose content the test chose.
if [ "$1" = s3 ]; then for a in "$@"; do dest="$a"; done; mkdir -p "$dest"; cp "${box}/s3-bundle.json" "$dest/bundle.json"; fi`,
      );
      fake(join(bin, "docker"), `echo "docker $*" >> "${box}/calls"`);
      fake(
        join(bin, "curl"),
        `out=""; url=""
while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift;; http*) url="$1";; esac; shift; done
case "$url" in
  *api/token*) echo imds-token;;
  *instance-id*) echo i-0123;;
  *amazoncloudwatch-agent*) echo "curl $url" >> "${box}/calls"
    case "$url" in *amazoncloudwatch-agent-*) [ -e "${agentFrom}/regional-lacks-\${url##*/}" ] && exit 22;; esac
    cp "${agentFrom ?? "/nonexistent"}/\${url##*/}" "$out";;
esac`,
      );
      fake(join(bin, "sleep"), "true");
      fake(join(bin, "chown"), `echo "chown $*" >> "${box}/calls"`);
      fake(
        join(bin, "dpkg"),
        `[ "$1" = --compare-versions ] && exec "${REAL_DPKG}" "$@"
echo "dpkg $*" >> "${box}/calls"
printf '#!/bin/bash\\n%s\\n' '${agentCtl}' > "${agent}/amazon-cloudwatch-agent-ctl"
chmod 755 "${agent}/amazon-cloudwatch-agent-ctl"`,
      );
      if (!agentFrom) fake(join(agent, "amazon-cloudwatch-agent-ctl"), agentCtl);
      const sandboxed = script.replaceAll("/opt/", `${box}/opt/`).replaceAll("/var/log/", `${box}/`);
      writeFileSync(join(box, "user_data.sh"), sandboxed);
      const r = spawnSync("bash", [join(box, "user_data.sh")], {
        env: { PATH: `${bin}:${process.env.PATH}` },
        encoding: "utf8",
        timeout: 30_000,
      });
      const calls = (() => {
        try {
          return readFileSync(join(box, "calls"), "utf8").trim().split("\n");
        } catch {
          return [];
        }
      })();
      const envFile = join(box, "opt/intentql/server.env");
      let env: string | undefined;
      try {
        env = readFileSync(envFile, "utf8");
      } catch {
        env = undefined;
      }
      return { status: r.status, stderr: r.stderr + r.stdout, calls, env, envFile };
    };

    const TOKEN = "t".repeat(40);
    const BUNDLE_JSON = '{"name":"massive-scratch"}\n';
    const BUNDLE_SHA256 = createHash("sha256").update(BUNDLE_JSON).digest("hex");
    const NEXT = "n".repeat(36);
    let plain: string;
    let rotating: string;
    let fromS3: string;
    let fromS3Stale: string;
    let triton: string;
    beforeAll(() => {
      work = mkdtempSync(join(tmpdir(), "tf-user-data-"));
      plain = render("");
      rotating = render("arn:aws:secretsmanager:us-east-1:1:secret:next");
      fromS3 = render("", "s3://models/massive-scratch/1.0.0/", BUNDLE_SHA256);
      fromS3Stale = render("", "s3://models/massive-scratch/1.0.0/", "0".repeat(64));
      triton = render("", "", "", "triton");
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it("renders to a bash script that parses", () => {
      for (const s of [plain, rotating, fromS3])
        expect(spawnSync("bash", ["-n"], { input: s }).status).toBe(0);
    });

    it("retries a secret that is not readable yet, then starts gpu-service with the token in a 0600 env file", () => {
      const r = run(plain, { current: ["!fail", "", "!fail", TOKEN] });
      expect(r.status, r.stderr).toBe(0);
      expect(r.calls.filter((c) => c.startsWith("aws secretsmanager"))).toHaveLength(4);
      expect(r.env).toContain(`INTENTQL_UPSTREAM_TOKEN=${TOKEN}\n`);
      expect(r.env).toContain("NODE_ENV=production\n");
      expect(r.env).not.toContain("INTENTQL_UPSTREAM_TOKEN_NEXT");
      expect(statSync(r.envFile).mode & 0o777).toBe(0o600);
      expect(r.calls.some((c) => c.startsWith("docker run") && c.includes("--env-file"))).toBe(true);
      expect(r.calls.join("\n")).not.toContain(TOKEN);
      // the container gets no capabilities and cannot gain privileges
      const started = r.calls.find((c) => c.startsWith("docker run") && c.includes("gpu-service"))!;
      expect(started).toMatch(/--cap-drop ALL --security-opt no-new-privileges/);
    });

    it("starts Triton as its image's non-root user, without capabilities, its engine cache that user's alone", () => {
      const r = run(triton, {});
      expect(r.status, r.stderr).toBe(0);
      const started = r.calls.find((c) => c.startsWith("docker run") && c.includes("--name triton"))!;
      expect(started).toMatch(/--user 1000:1000 --cap-drop ALL --security-opt no-new-privileges/);
      expect(started).toMatch(/-v \S*\/opt\/intentql\/models:\/models:ro /);
      const cache = r.calls.find((c) => c.startsWith("chown"))!;
      expect(cache).toMatch(/^chown 1000:1000 \S*\/opt\/intentql\/trt-cache$/);
      expect(statSync(cache.split(" ")[2]!).mode & 0o777).toBe(0o700);
      expect(r.env).toBe("TRITON_LOG=1\n");
    });

    it("gives up, and starts nothing, when the secret stays empty or unreadable", () => {
      const r = run(plain, { current: Array(40).fill("") });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/cannot read the upstream token secret/);
      expect(r.calls.filter((c) => c.startsWith("aws secretsmanager"))).toHaveLength(30);
      expect(r.calls.some((c) => c.startsWith("docker run"))).toBe(false);
      expect(r.env).toBeUndefined();
    });

    it("refuses a token shorter than 32 characters", () => {
      const r = run(plain, { current: ["short-token"] });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/fewer than 32/);
      expect(r.calls.some((c) => c.startsWith("docker run"))).toBe(false);
    });

    it("during a rotation, passes the next token too", () => {
      const r = run(rotating, { current: [TOKEN], next: [NEXT] });
      expect(r.status, r.stderr).toBe(0);
      expect(r.env).toContain(`INTENTQL_UPSTREAM_TOKEN=${TOKEN}\n`);
      expect(r.env).toContain(`INTENTQL_UPSTREAM_TOKEN_NEXT=${NEXT}\n`);
    });

    it("serves the bundle from S3 only when its bundle.json has the sha256 Terraform pinned", () => {
      const ok = run(fromS3, { current: [TOKEN] });
      expect(ok.status, ok.stderr).toBe(0);
      expect(
        ok.calls.some(
          (c) => c.startsWith("aws s3 sync") && c.includes(" s3://models/massive-scratch/1.0.0/ "),
        ),
      ).toBe(true);
      expect(ok.calls.some((c) => c.startsWith("docker run"))).toBe(true);
      const stale = run(fromS3Stale, { current: [TOKEN] });
      expect(stale.status).not.toBe(0);
      expect(stale.stderr).toMatch(/does not have the pinned sha256/);
      expect(stale.calls.some((c) => c.startsWith("docker run"))).toBe(false);
    });

    describe.skipIf(gpgSkip)(
      "installs the CloudWatch agent only with AWS's pinned key and a good signature",
      () => {
        let keys: string;
        const gpg = (args: string[]) =>
          execFileSync("gpg", [
            "--batch",
            "--homedir",
            keys,
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            ...args,
          ]);
        /** A throwaway signing key (with a designated revoker: an rvk record between pub and fpr): its fingerprint. */
        const newKey = (uid: string, revoker?: string): string => {
          if (revoker) {
            const params = join(keys, `${uid.split(" ")[0]}.params`);
            const [name, email] = [uid.split(" <")[0]!, uid.split(" <")[1]!.replace(">", "")];
            writeFileSync(
              params,
              `%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\nName-Real: ${name}\nName-Email: ${email}\nRevoker: 22:${revoker}\nExpire-Date: 0\n%commit\n`,
            );
            gpg(["--gen-key", params]);
          } else gpg(["--quick-gen-key", uid, "ed25519", "sign", "never"]);
          const listing = gpg(["--with-colons", "--list-keys", uid]).toString().split("\n");
          const pub = listing.findIndex((l) => l.startsWith("pub:"));
          return listing.find((l, i) => i > pub && l.startsWith("fpr:"))!.split(":")[9]!;
        };
        /**
         * A download folder as AWS's bucket would serve it: package (a real .deb of `version`, or
         * bytes that are no package when `version` is null), detached signature, key file (armored
         * as AWS's is, or binary).
         */
        const bucket = (
          signer: string,
          keyFile: string[],
          tamper = false,
          armor = true,
          version: string | null = "1.300064.1b1234-1",
        ): string => {
          const dir = mkdtempSync(join(work, "cw-"));
          const deb = join(dir, "amazon-cloudwatch-agent.deb");
          if (version === null) writeFileSync(deb, "a package\n");
          else {
            const root = join(dir, "package");
            mkdirSync(join(root, "DEBIAN"), { recursive: true });
            writeFileSync(
              join(root, "DEBIAN/control"),
              `Package: amazon-cloudwatch-agent\nVersion: ${version}\nArchitecture: amd64\nMaintainer: Test <test@test.invalid>\nDescription: a package\n`,
            );
            execFileSync("dpkg-deb", ["--build", "--root-owner-group", root, deb], { stdio: "ignore" });
          }
          gpg(["--local-user", signer, "--detach-sign", "--output", `${deb}.sig`, deb]);
          if (tamper) writeFileSync(deb, "a package, changed after signing\n");
          writeFileSync(
            join(dir, "amazon-cloudwatch-agent.gpg"),
            gpg(["--export", ...(armor ? ["--armor"] : []), ...keyFile]),
          );
          return dir;
        };
        let signer: string;
        let impostor: string;
        let revocable: string;
        let pinned: string;
        beforeAll(() => {
          keys = mkdtempSync(join(work, "gnupg-"));
          chmodSync(keys, 0o700);
          signer = newKey("CloudWatch agent signer <signer@test.invalid>");
          impostor = newKey("Impostor <impostor@test.invalid>");
          revocable = newKey("Revocable <revocable@test.invalid>", signer);
          pinned = render("", "", "", "gpu-service", signer);
        });
        afterAll(() => spawnSync("gpgconf", ["--homedir", keys, "--kill", "all"]));

        it("a package signed by the pinned key, from the region's bucket, is installed", () => {
          const binaryKey = run(pinned, { current: [TOKEN] }, bucket(signer, [signer], false, false));
          expect(binaryKey.status, binaryKey.stderr).toBe(0);
          expect(binaryKey.calls.filter((c) => c.startsWith("dpkg -i"))).toHaveLength(1);
          const r = run(pinned, { current: [TOKEN] }, bucket(signer, [signer]));
          expect(r.status, r.stderr).toBe(0);
          const fetched = r.calls.filter((c) => c.startsWith("curl "));
          expect(fetched).toHaveLength(3);
          for (const c of fetched)
            expect(c).toMatch(
              /^curl https:\/\/amazoncloudwatch-agent-us-east-1\.s3\.us-east-1\.amazonaws\.com\//,
            );
          expect(r.calls.filter((c) => c.startsWith("dpkg -i"))).toHaveLength(1);
          expect(r.calls.some((c) => c.startsWith("agent -a fetch-config"))).toBe(true);
        });

        it("a package changed after signing is refused", () => {
          const r = run(pinned, { current: [TOKEN] }, bucket(signer, [signer], true));
          expect(r.status).not.toBe(0);
          expect(r.stderr).toMatch(/signature does not verify/);
          expect(r.calls.some((c) => c.startsWith("dpkg"))).toBe(false);
        });

        it("another key, alone or beside the pinned one, is refused whatever it signed", () => {
          // `revocable` names the pinned key as its designated revoker: its listing has an rvk record
          // between pub and fpr, which a check reading only the fpr right after pub would miss.
          for (const [other, keyFile] of [
            [impostor, [impostor]],
            [impostor, [signer, impostor]],
            [revocable, [signer, revocable]],
          ] as const) {
            const r = run(pinned, { current: [TOKEN] }, bucket(other, [...keyFile]));
            expect(r.status).not.toBe(0);
            expect(r.stderr).toMatch(/is not the one key/);
            expect(r.calls.some((c) => c.startsWith("dpkg"))).toBe(false);
          }
        });

        it("a package signed by another key is refused even when the key file is the pinned key alone", () => {
          const r = run(pinned, { current: [TOKEN] }, bucket(impostor, [signer]));
          expect(r.status).not.toBe(0);
          expect(r.stderr).toMatch(/does not verify as made by/);
          expect(r.calls.some((c) => c.startsWith("dpkg"))).toBe(false);
        });

        it("a package older than the floor is refused though AWS's key signed it, one at the floor installs", () => {
          for (const old of ["1.300063.0b999-1", "1.300063.9", "1.300064.0~rc1-1"]) {
            const r = run(pinned, { current: [TOKEN] }, bucket(signer, [signer], false, true, old));
            expect(r.status).not.toBe(0);
            expect(r.stderr).toContain(`version ('${old}') is unreadable or older than ${AGENT_FLOOR}`);
            expect(r.calls.some((c) => c.startsWith("dpkg"))).toBe(false);
          }
          for (const ok of [AGENT_FLOOR, "1.300064.0b1337-1", "1.300100.0b1-1"]) {
            const r = run(pinned, { current: [TOKEN] }, bucket(signer, [signer], false, true, ok));
            expect(r.status, `${ok}: ${r.stderr}`).toBe(0);
            expect(r.calls.filter((c) => c.startsWith("dpkg -i"))).toHaveLength(1);
          }
          const raised = render("", "", "", "gpu-service", signer, "1.300100.0");
          const below = run(raised, { current: [TOKEN] }, bucket(signer, [signer]));
          expect(below.status).not.toBe(0);
          expect(below.stderr).toContain("older than 1.300100.0");
        });

        it("a signed file that is no package (no version to read) is refused", () => {
          const r = run(pinned, { current: [TOKEN] }, bucket(signer, [signer], false, true, null));
          expect(r.status).not.toBe(0);
          expect(r.stderr).toContain("version ('') is unreadable");
          expect(r.calls.some((c) => c.startsWith("dpkg"))).toBe(false);
        });

        it("takes a file the region's bucket lacks from AWS's global bucket", () => {
          const from = bucket(signer, [signer]);
          writeFileSync(join(from, "regional-lacks-amazon-cloudwatch-agent.gpg"), "");
          const r = run(pinned, { current: [TOKEN] }, from);
          expect(r.status, r.stderr).toBe(0);
          const fetched = r.calls.filter((c) => c.startsWith("curl ") && c.endsWith(".gpg"));
          expect(fetched).toEqual([
            "curl https://amazoncloudwatch-agent-us-east-1.s3.us-east-1.amazonaws.com/assets/amazon-cloudwatch-agent.gpg",
            "curl https://amazoncloudwatch-agent.s3.amazonaws.com/assets/amazon-cloudwatch-agent.gpg",
          ]);
          expect(r.calls.filter((c) => c.startsWith("dpkg -i"))).toHaveLength(1);
        });

        it("the module pins AWS's key and a version floor by default, and refuses malformed ones", () => {
          const dir = variablesRoot(work, [
            { file: "modules/gpu/variables.tf", name: "cloudwatch_agent_key_fingerprint" },
            { file: "modules/gpu/variables.tf", name: "cloudwatch_agent_min_version" },
          ]);
          const defaults = evaluate(dir);
          expect(defaults.cloudwatch_agent_key_fingerprint).toBe(AWS_AGENT_KEY);
          expect(defaults.cloudwatch_agent_min_version).toBe(AGENT_FLOOR);
          for (const bad of ["", "latest", "v1.300064.0", "1.300064.0; reboot", "1.300064.0'"])
            expect(() => evaluate(dir, ["-var", `cloudwatch_agent_min_version=${bad}`])).toThrow();
          expect(() => evaluate(dir, ["-var", "cloudwatch_agent_key_fingerprint=9376 16F3 450B"])).toThrow();
          expect(() =>
            evaluate(dir, ["-var", `cloudwatch_agent_key_fingerprint=${AWS_AGENT_KEY.toLowerCase()}`]),
          ).toThrow();
        });
      },
    );
  });
});
