/**
 * Contract test: gpu-service's responses validated against the schemas of the Open Inference
 * Protocol's OpenAPI document (docs/specs/open-inference-protocol/open_inference_rest.yaml).
 * The document uses a small YAML subset (block maps and lists, plain or quoted scalars), parsed
 * here by hand; the validator covers the JSON-schema keywords its components use.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";
import { jsonInfer, MODEL, tokenizer } from "./client.ts";

const SPEC = resolve(
  import.meta.dirname,
  "../../../docs/specs/open-inference-protocol/open_inference_rest.yaml",
);

type Yaml = null | boolean | number | string | Yaml[] | { [k: string]: Yaml };

function scalar(text: string): Yaml {
  const t = text.trim();
  if (t === "{}") return {};
  if (t === "[]") return [];
  if (/^'.*'$/.test(t)) return t.slice(1, -1).replace(/''/g, "'");
  if (/^".*"$/.test(t)) return JSON.parse(t) as string;
  if (t === "true" || t === "false") return t === "true";
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return t;
}

export function parseYamlSubset(source: string): Yaml {
  const lines = source
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#"))
    .map((l) => ({ indent: l.length - l.trimStart().length, text: l.trim() }));
  let i = 0;
  const block = (indent: number): Yaml => {
    if (lines[i]!.text.startsWith("- ") || lines[i]!.text === "-") {
      const list: Yaml[] = [];
      while (i < lines.length && lines[i]!.indent === indent && lines[i]!.text.startsWith("-")) {
        const rest = lines[i]!.text.slice(1).trim();
        if (/^[^'"]+?:( |$)/.test(rest)) {
          // "- key: value": a map whose first key sits on the dash line
          lines[i] = { indent: indent + 2, text: rest };
          list.push(block(indent + 2));
        } else {
          list.push(scalar(rest));
          i++;
        }
      }
      return list;
    }
    const map: { [k: string]: Yaml } = {};
    while (i < lines.length && lines[i]!.indent === indent && !lines[i]!.text.startsWith("- ")) {
      const m = /^('[^']*'|"[^"]*"|[^:]+):(?: (.*))?$/.exec(lines[i]!.text);
      if (!m) throw new Error(`unparsed YAML line: ${lines[i]!.text}`);
      const key = String(scalar(m[1]!));
      i++;
      if (m[2] !== undefined && m[2].trim() !== "") map[key] = scalar(m[2]);
      else if (
        i < lines.length &&
        (lines[i]!.indent > indent || (lines[i]!.indent === indent && lines[i]!.text.startsWith("- ")))
      )
        map[key] = block(lines[i]!.indent);
      else map[key] = null;
    }
    return map;
  };
  return block(0);
}

type Schema = { [k: string]: Yaml };

/** Returns the problems found (empty when valid). */
function validate(value: unknown, schema: Schema, root: Schema, path = "$"): string[] {
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.replace("#/components/schemas/", "");
    return validate(value, root[name] as Schema, root, path);
  }
  if (Array.isArray(schema.anyOf)) {
    const ok = (schema.anyOf as Schema[]).some((s) => validate(value, s, root, path).length === 0);
    return ok ? [] : [`${path}: matches none of anyOf`];
  }
  const errors: string[] = [];
  const type = schema.type;
  const actual = Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
  if (type === "integer") {
    if (!Number.isInteger(value)) errors.push(`${path}: expected integer, got ${JSON.stringify(value)}`);
  } else if (typeof type === "string" && type !== actual)
    errors.push(`${path}: expected ${type}, got ${actual}`);
  if (actual === "object" && value !== null) {
    const obj = value as Record<string, unknown>;
    for (const key of (schema.required as string[] | undefined) ?? [])
      if (!(key in obj)) errors.push(`${path}: missing required "${key}"`);
    const props = (schema.properties as Record<string, Schema> | undefined) ?? {};
    for (const [key, sub] of Object.entries(props))
      if (key in obj) errors.push(...validate(obj[key], sub, root, `${path}.${key}`));
  }
  if (actual === "array" && schema.items)
    (value as unknown[]).forEach((v, k) => {
      errors.push(...validate(v, schema.items as Schema, root, `${path}[${k}]`));
    });
  return errors;
}

let schemas: Schema = {};
let service: GpuServiceHandle;

beforeAll(async () => {
  if (!existsSync(SPEC))
    throw new Error(
      `the protocol spec is missing at ${SPEC} (it is committed: docs/specs/open-inference-protocol)`,
    );
  const doc = parseYamlSubset(readFileSync(SPEC, "utf8")) as Schema;
  schemas = (doc.components as Schema).schemas as Schema;
  service = await startGpuService({ args: ["--max-batch-size", "8"] });
});
afterAll(async () => {
  await service?.stop();
});

describe("contract: Open Inference Protocol OpenAPI schemas", () => {
  const check = (value: unknown, name: string): string[] => validate(value, schemas[name] as Schema, schemas);

  it("parses the spec's schemas", () => {
    expect(Object.keys(schemas)).toEqual(
      expect.arrayContaining([
        "metadata_server_response",
        "inference_request",
        "inference_response",
        "response_output",
      ]),
    );
    // the validator does reject a non-conforming body
    expect(check({ name: "x", extensions: "no" }, "metadata_server_response")).toEqual([
      '$: missing required "version"',
      "$.extensions: expected array, got string",
    ]);
  });

  it("server metadata", async () => {
    const body = await (await fetch(`${service.url}/v2`)).json();
    expect(check(body, "metadata_server_response")).toEqual([]);
  });

  it("model metadata", async () => {
    const body = await (await fetch(`${service.url}/v2/models/${MODEL}`)).json();
    expect(check(body, "metadata_model_response")).toEqual([]);
    const missing = await fetch(`${service.url}/v2/models/nope`);
    expect(check(await missing.json(), "metadata_model_error_response")).toEqual([]);
  });

  it("our request and the inference response (JSON tensors)", async () => {
    const ids = tokenizer.encode("turn off the kitchen lights").ids;
    const request = JSON.parse(jsonInfer([ids], undefined, { id: "c1", outputs: [{ name: "logits" }] }));
    expect(check(request, "inference_request")).toEqual([]);
    const res = await fetch(`${service.url}/v2/models/${MODEL}/infer`, {
      method: "POST",
      body: JSON.stringify(request),
    });
    expect(res.status).toBe(200);
    expect(check(await res.json(), "inference_response")).toEqual([]);
  });

  it("inference error response", async () => {
    const res = await fetch(`${service.url}/v2/models/${MODEL}/infer`, { method: "POST", body: "{" });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(check(body, "inference_error_response")).toEqual([]);
    expect(typeof (body as { error: unknown }).error).toBe("string");
  });
});
