import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { parse } from "@cdktf/hcl2json";
import { describe, expect, it } from "vitest";
import { findSecretLiterals, isRequired, variableProblems, variablesOf } from "./terraform-lint.ts";

const ROOT = join(import.meta.dirname, "../../..");
const TF_ROOT = join(ROOT, "infra/terraform");

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name.startsWith(".terraform")) return [];
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const files = walk(TF_ROOT);
const tfFiles = files.filter((f) => f.endsWith(".tf"));
const moduleDirs = [...new Set(tfFiles.map((f) => dirname(f)))];

async function parseFile(f: string): Promise<Record<string, unknown>> {
  return (await parse(relative(ROOT, f), readFileSync(f, "utf8"))) as Record<string, unknown>;
}

describe("infra/terraform", () => {
  it("has the edge and gpu modules and the prod env", () => {
    const rel = moduleDirs.map((d) => relative(TF_ROOT, d)).sort();
    expect(rel).toEqual(["envs/prod", "modules/edge", "modules/gpu"]);
  });

  it.each(tfFiles.map((f) => [relative(ROOT, f), f]))("%s parses as HCL", async (_name, f) => {
    const parsed = await parseFile(f);
    expect(Object.keys(parsed).length).toBeGreaterThan(0);
  });

  it("the parser rejects broken HCL (so the parse check can fail)", async () => {
    await expect(parse("broken.tf", 'variable "x" {\n  type = string\n')).rejects.toThrow(/Unclosed/);
  });

  it.each(moduleDirs.map((d) => [relative(ROOT, d), d]))(
    "%s: every variable has a type and a description, and the README documents the required ones",
    async (_name, dir) => {
      const vars = new Map<string, ReturnType<typeof variablesOf> extends Map<string, infer V> ? V : never>();
      for (const f of tfFiles.filter((f) => dirname(f) === dir))
        for (const [k, v] of variablesOf(await parseFile(f))) vars.set(k, v);
      expect(vars.size).toBeGreaterThan(0);
      const problems = [...vars].flatMap(([k, v]) => variableProblems(k, v));
      expect(problems).toEqual([]);
      const readme = readFileSync(join(dir, "README.md"), "utf8");
      const undocumented = [...vars].filter(([k, v]) => isRequired(v) && !readme.includes(`\`${k}\``));
      expect(undocumented.map(([k]) => k)).toEqual([]);
    },
  );

  it("variable checks catch a missing type or description", () => {
    expect(variableProblems("x", { description: "a long enough description" })).toEqual([
      'variable "x" has no type',
    ]);
    expect(variableProblems("y", { type: "string" })).toHaveLength(1);
  });

  it("every module wires its variables: modules/edge and modules/gpu get all their required inputs in envs/prod", async () => {
    const prod = await parseFile(join(TF_ROOT, "envs/prod/main.tf"));
    const modules = prod.module as Record<string, Record<string, unknown>[]>;
    for (const name of ["edge", "gpu"]) {
      const call = modules[name]![0]!;
      const required: string[] = [];
      for (const f of tfFiles.filter((f) => dirname(f) === join(TF_ROOT, `modules/${name}`)))
        for (const [k, v] of variablesOf(await parseFile(f))) if (isRequired(v)) required.push(k);
      expect(
        required.filter((k) => !(k in call)),
        name,
      ).toEqual([]);
    }
  });

  it("the GPU fleet health-checks /v2/health/ready and only the ALB reaches instances", async () => {
    const main = await parseFile(join(TF_ROOT, "modules/gpu/main.tf"));
    const res = main.resource as Record<string, Record<string, any[]>>;
    expect(res.aws_lb_target_group!.gpu![0].health_check[0].path).toBe("/v2/health/ready");
    const ingress = res.aws_vpc_security_group_ingress_rule!;
    expect(ingress.instance_from_alb![0].referenced_security_group_id).toBe(
      ["$", "{aws_security_group.alb.id}"].join(""),
    );
    const instanceRules = Object.values(ingress).filter((r) =>
      String(r[0].security_group_id).includes("instance"),
    );
    expect(instanceRules).toHaveLength(1);
  });

  it("the GPU instance role is scoped: no AWS managed policy, and '*' only for actions that take no resource", async () => {
    const iam = await parseFile(join(TF_ROOT, "modules/gpu/iam.tf"));
    const res = iam.resource as Record<string, Record<string, any[]>>;
    expect(
      res.aws_iam_role_policy_attachment,
      "managed policies grant ssm:GetParameter etc. on *",
    ).toBeUndefined();
    const doc = (iam.data as any).aws_iam_policy_document.instance[0];
    const statements = [
      ...(doc.statement ?? []),
      ...(doc.dynamic?.statement ?? []).flatMap((d: any) => d.content),
    ];
    const sids = statements.map((st: any) => st.sid);
    expect(sids).toEqual(
      expect.arrayContaining([
        "ReadUpstreamToken",
        "WriteLogs",
        "PutFleetMetrics",
        "SsmAgent",
        "EcrLogin",
        "PullImage",
      ]),
    );
    const mayUseStar = new Set(["ecr:GetAuthorizationToken", "ec2:DescribeTags", "cloudwatch:PutMetricData"]);
    for (const st of statements) {
      if (!st.resources.includes("*")) continue;
      for (const action of st.actions)
        expect(
          mayUseStar.has(action) || /^(ssm:UpdateInstanceInformation|ec2messages:|ssmmessages:)/.test(action),
          action,
        ).toBe(true);
      expect(st.actions.join(" ")).not.toMatch(
        /ssm:GetParameter|ssm:GetDocument|s3:|logs:|ecr:BatchGetImage/,
      );
    }
    const metrics = statements.find((st: any) => st.sid === "PutFleetMetrics");
    expect(metrics.condition[0]).toMatchObject({ test: "StringEquals", variable: "cloudwatch:namespace" });
    const pull = statements.find((st: any) => st.sid === "PullImage");
    expect(pull.resources).toEqual([["$", "{local.ecr_repository_arn}"].join("")]);
    const logs = statements.find((st: any) => st.sid === "WriteLogs");
    expect(logs.resources.every((r: string) => r.includes("aws_cloudwatch_log_group."))).toBe(true);
    const main = await parseFile(join(TF_ROOT, "modules/gpu/main.tf"));
    expect((main.resource as any).aws_cloudwatch_log_group.prometheus[0].name).toBe(
      ["$", "{local.log_group}/prometheus"].join(""),
    );
  });

  it("contains no secret literals (including templates and example tfvars)", () => {
    const scanned = files.filter((f) => /\.(tf|tftpl|example|tfvars)$/.test(f));
    expect(scanned.length).toBeGreaterThan(tfFiles.length);
    const hits = scanned.flatMap((f) =>
      findSecretLiterals(readFileSync(f, "utf8")).map((h) => `${relative(ROOT, f)}: ${h}`),
    );
    expect(hits).toEqual([]);
  });

  it("the secret scanner flags literals and ignores references", () => {
    expect(findSecretLiterals('upstream_token = "hunter2hunter2"')).toHaveLength(1);
    expect(findSecretLiterals('  api_key_pepper="abc"')).toHaveLength(1);
    expect(findSecretLiterals("key = AKIAABCDEFGHIJKLMNOP")).toHaveLength(1);
    expect(findSecretLiterals('upstream_token = var.upstream_token\ntoken_secret_arn = "arn:aws:x"')).toEqual(
      [],
    );
    expect(findSecretLiterals('upstream_token_secret_name = "intentql/upstream-token"')).toEqual([]);
    expect(findSecretLiterals('http_tokens = "required"')).toEqual([]);
    expect(
      findSecretLiterals('IMDS_TOKEN="$(curl -fsS -X PUT http://169.254.169.254/latest/api/token)"'),
    ).toEqual([]);
  });

  const terraform = spawnSync("terraform", ["version"], { encoding: "utf8" });
  const hasTerraform = terraform.status === 0;
  if (!hasTerraform) console.log("terraform fmt check skipped: no terraform binary on PATH");
  it.skipIf(!hasTerraform)("is terraform fmt clean", () => {
    const out = execFileSync("terraform", ["fmt", "-check", "-recursive", "-list=true", TF_ROOT], {
      encoding: "utf8",
    });
    expect(out.trim()).toBe("");
  });
});
