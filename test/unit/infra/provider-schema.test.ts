import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parse } from "@cdktf/hcl2json";
import { describe, expect, it } from "vitest";
import {
  type ProviderSchema,
  pinProblems,
  providerSchemaProblems,
  requiredProviders,
} from "./provider-schema.ts";

const ROOT = join(import.meta.dirname, "../../..");
const TF_ROOT = join(ROOT, "infra/terraform");
const schema = JSON.parse(readFileSync(join(TF_ROOT, "schema/providers.json"), "utf8")) as ProviderSchema;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name.startsWith(".terraform")) return [];
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const tfFiles = walk(TF_ROOT)
  .filter((f) => f.endsWith(".tf"))
  .map((f) => relative(ROOT, f));

const parseText = async (name: string, text: string) => (await parse(name, text)) as Record<string, unknown>;
const problemsOf = async (name: string, text: string) =>
  providerSchemaProblems(name, await parseText(name, text), schema);

/** Problems that `edit` adds to a file (so the file's own state does not matter). */
async function addedProblems(file: string, edit: (text: string) => string): Promise<string[]> {
  const text = readFileSync(join(ROOT, file), "utf8");
  const before = new Set(await problemsOf(file, text));
  const after = await problemsOf(file, edit(text));
  expect(after.length, "the edit must keep the file parseable and checked").toBeGreaterThan(0);
  return after.filter((p) => !before.has(p)).map((p) => p.slice(file.length + 2));
}

/** The first `resource "T" "N" {` whose body opens a nested `name {` block or `name = {` object. */
function firstNested(text: string, opener: RegExp) {
  const re = new RegExp(
    String.raw`^resource "(\w+)" "(\w+)" \{\n(?:(?!^\}).*\n)*?(  (\w+)${opener.source}\n)`,
    "m",
  );
  const m = text.match(re);
  if (!m) throw new Error(`no resource with a nested ${opener.source} here`);
  return { type: m[1]!, name: m[2]!, line: m[3]!, nested: m[4]! };
}

describe("provider schemas (infra/terraform/schema/providers.json)", () => {
  it("records the pinned AWS and Cloudflare providers, all their type names and nested argument trees", () => {
    expect(Object.keys(schema.providers).sort()).toEqual(["aws", "cloudflare"]);
    expect(Object.keys(schema.resources).length).toBeGreaterThan(1500);
    expect(Object.keys(schema.data_sources).length).toBeGreaterThan(500);
    expect(schema.resources.aws_lb_listener_rule).toMatchObject({
      condition: { host_header: { values: 1 }, http_header: { http_header_name: 1, values: 1 } },
    });
  });

  it.each(tfFiles)(
    "%s uses only resource types, arguments and blocks of the pinned providers",
    async (file) => {
      expect(await problemsOf(file, readFileSync(join(ROOT, file), "utf8"))).toEqual([]);
    },
  );

  it("every versions.tf pins exactly the provider versions the schema was generated from", async () => {
    const pinned = new Set<string>();
    for (const file of tfFiles) {
      const parsed = await parseText(file, readFileSync(join(ROOT, file), "utf8"));
      for (const req of Object.values(requiredProviders(parsed))) pinned.add(String(req.source));
      expect(pinProblems(file, parsed, schema)).toEqual([]);
    }
    expect([...pinned].sort()).toEqual(
      Object.values(schema.providers)
        .map((p) => p.source)
        .sort(),
    );
  });

  it("a version bump without regenerating the schema is caught", async () => {
    const versions = `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 6.25" }
    cloudflare = { source = "cloudflare/cloudflare", version = "= ${schema.providers.cloudflare!.version}" }
    random = { source = "hashicorp/random", version = "3.7.2" }
  }
}`;
    const problems = pinProblems("versions.tf", await parseText("versions.tf", versions), schema);
    expect(problems).toEqual([
      expect.stringMatching(/hashicorp\/aws version "~> 6.25" is not the recorded 6\.25\.0/),
      expect.stringMatching(/provider "random" \(hashicorp\/random\) has no recorded schema/),
    ]);
  });

  it("catches an unknown argument in a resource and in one of its nested blocks (real module file)", async () => {
    const file = "infra/terraform/modules/gpu/main.tf";
    const text = readFileSync(join(ROOT, file), "utf8");
    const block = firstNested(text, / \{/);
    const added = await addedProblems(file, (t) =>
      t
        .replace(block.line, `${block.line}    bogus_nested = 1\n`)
        .replace(`resource "${block.type}" "${block.name}" {\n`, (open) => `${open}  bogus_argument = 1\n`),
    );
    expect(added.sort()).toEqual(
      [
        `${block.type}.${block.name}: unknown argument "bogus_argument"`,
        `${block.type}.${block.name}: unknown argument "${block.nested}.bogus_nested"`,
      ].sort(),
    );
  });

  it("catches an unknown key in a nested object attribute (Cloudflare, real module file)", async () => {
    const file = "infra/terraform/modules/edge/main.tf";
    const text = readFileSync(join(ROOT, file), "utf8");
    const attr = firstNested(text, / += \{/);
    const added = await addedProblems(file, (t) => t.replace(attr.line, `${attr.line}    bogus_key = "x"\n`));
    expect(added).toEqual([`${attr.type}.${attr.name}: unknown argument "${attr.nested}.bogus_key"`]);
  });

  it("catches unknown resource and data source types", async () => {
    const file = "infra/terraform/modules/gpu/main.tf";
    const added = await addedProblems(
      file,
      (t) => `${t}\nresource "aws_fooo" "x" {}\ndata "aws_baar" "y" {}\ndata "cloudflare_zonez" "z" {}\n`,
    );
    expect(added).toEqual([
      'aws_fooo.x: unknown resource type "aws_fooo"',
      'data.aws_baar.y: unknown data source type "aws_baar"',
      'data.cloudflare_zonez.z: unknown data source type "cloudflare_zonez"',
    ]);
  });

  it("unwraps dynamic blocks, walks literal objects (also in concat(…) arguments) and skips other expressions", async () => {
    const problems = await problemsOf(
      "x.tf",
      `resource "aws_autoscaling_group" "a" {
  max_size = 1
  min_size = 1
  dynamic "tag" {
    for_each = var.tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
      colour              = "blue"
    }
  }
  dynamic "taggs" {
    for_each = var.tags
    content {}
  }
}
resource "cloudflare_workers_script" "w" {
  account_id  = "a"
  script_name = "s"
  bindings = [
    { type = "plain_text", name = "A", text = "a" },
    { type = "plain_text", name = "B", txt = "b" },
  ]
  compatibility_flags = concat(["nodejs_compat"], var.flags)
}
resource "cloudflare_workers_script" "v" {
  account_id  = "a"
  script_name = "s"
  bindings = concat(
    [
      # a comment with a bracket ]
      { type = "plain_text", name = "A", bogus = 1 },
      { type = "ratelimit", name = "B", simple = { limit = 1, period = 10 } },
    ],
    [for k, v in var.vars : { type = "plain_text", name = k, text = v, ignored = 1 }],
    local.more,
  )
  migrations = var.migrations == null ? null : { new_tag = "v1", bogus_tag = "v0" }
}`,
    );
    expect(problems).toEqual([
      'x.tf: aws_autoscaling_group.a: unknown argument "tag.colour"',
      'x.tf: aws_autoscaling_group.a: unknown block "taggs" (dynamic)',
      'x.tf: cloudflare_workers_script.v: unknown argument "bindings.bogus"',
      'x.tf: cloudflare_workers_script.v: unknown argument "bindings.simple"',
      'x.tf: cloudflare_workers_script.w: unknown argument "bindings.txt"',
    ]);
  });

  it("catches computed-only arguments, missing required ones, bad ignore_changes and bad references", async () => {
    const problems = await problemsOf(
      "x.tf",
      `resource "aws_lb_listener_rule" "r" {
  listener_arn = "arn"
  arn          = "arn:aws:elasticloadbalancing:x"
  action {
    target_group_arn = aws_lb_target_group.g.arn
  }
  lifecycle {
    ignore_changes  = [priority, prioritty]
    prevent_destroy = true
    destroy_never   = true
  }
}
data "aws_ssm_parameter" "ami" {
  name = "/aws/service/x"
  lifecycle {
    prevent_destroy = true
  }
}
output "x" {
  value = [aws_lb_listener_rule.r.arn, aws_lb_listener_rule.r[0].arn_suffix, data.aws_ssm_parameter.ami.value]
}`,
    );
    expect(problems.sort()).toEqual([
      'x.tf: aws_lb_listener_rule.r: "arn" is computed-only: it cannot be set',
      'x.tf: aws_lb_listener_rule.r: lifecycle.ignore_changes: unknown argument "prioritty"',
      'x.tf: aws_lb_listener_rule.r: missing required argument "action.type"',
      'x.tf: aws_lb_listener_rule.r: missing required argument "condition"',
      'x.tf: aws_lb_listener_rule.r: unknown argument "lifecycle.destroy_never"',
      'x.tf: data.aws_ssm_parameter.ami: unknown argument "lifecycle.prevent_destroy"',
      'x.tf: reference aws_lb_listener_rule.r[0].arn_suffix: "aws_lb_listener_rule" has no attribute "arn_suffix"',
    ]);
  });

  it("checks provider blocks against the provider's own configuration schema", async () => {
    const problems = await problemsOf(
      "x.tf",
      `provider "aws" {
  region = "eu-west-1"
  alias  = "eu"
  default_tags {
    tags = { Project = "intentql" }
  }
  regoin = "x"
}
provider "cloudflare" {}
provider "random" {}`,
    );
    expect(problems).toEqual([
      'x.tf: provider "aws": unknown argument "regoin"',
      'x.tf: provider "random": not one of the recorded providers',
    ]);
  });
});
