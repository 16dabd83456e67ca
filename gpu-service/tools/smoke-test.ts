/**
 * Go-live smoke test of a running gpu-service (docs/DEPLOY.md, go-live checklist): on the GPU host,
 * inside the container, `docker exec gpu-service node /app/smoke-test.mjs`. Checks, each printed as
 * one JSON line, exit 1 if any fails:
 *   ready      GET /v2/health/ready answers 200 (waits up to --wait-s)
 *   auth       infer without a token and with a wrong one is refused with 401 (auth fails closed)
 *   provider   the model runs on the expected execution provider (--expect-provider, default cuda)
 *   bundle     the served bundle's vocab sha256 equals the local bundle's
 *   parity     accuracy and F1-macro on the labelled split are within --tolerance of the figures the
 *              bundle's parity.json records for the served variant
 * The token comes from INTENTQL_UPSTREAM_TOKEN (the container's own env), never from a flag.
 *
 *   node dist/smoke-test.mjs [--url http://127.0.0.1:8500] [--bundle DIR] [--data FILE]
 *     [--expect-provider cuda|cpu] [--tolerance 0.005] [--wait-s 300]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { measureServedAccuracy } from "./served-accuracy.ts";

interface Check {
  check: string;
  ok: boolean;
  [detail: string]: unknown;
}

interface ParityEntry {
  test: { n: number; accuracy: number; f1Macro: number };
}

const { values } = parseArgs({
  options: {
    url: { type: "string", default: `http://127.0.0.1:${process.env.GPU_PORT ?? 8500}` },
    bundle: {
      type: "string",
      default: (process.env.INTENTQL_BUNDLES ?? "models/massive-scratch").split(",")[0],
    },
    data: { type: "string", default: process.env.INTENTQL_SMOKE_DATA ?? "data/massive-en/test.jsonl" },
    "expect-provider": { type: "string", default: "cuda" },
    tolerance: { type: "string", default: "0.005" },
    "wait-s": { type: "string", default: "300" },
  },
});
const url = values.url!.replace(/\/+$/, "");
const token = process.env.INTENTQL_UPSTREAM_TOKEN ?? "";
const tolerance = Number(values.tolerance);
const checks: Check[] = [];
const report = (c: Check): void => {
  checks.push(c);
  process.stdout.write(`${JSON.stringify(c)}\n`);
};

async function waitReady(): Promise<boolean> {
  const until = Date.now() + Number(values["wait-s"]) * 1000;
  for (;;) {
    const status = await fetch(`${url}/v2/health/ready`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function main(): Promise<void> {
  const bundle = JSON.parse(readFileSync(join(values.bundle!, "bundle.json"), "utf8")) as {
    name: string;
    maxLength: number;
    tokenizer: { vocab: string; vocabSha256: string };
  };
  const labels = (
    JSON.parse(readFileSync(join(values.bundle!, "labels.json"), "utf8")) as { name: string }[]
  ).map((l) => l.name);
  const parity = JSON.parse(readFileSync(join(values.bundle!, "parity.json"), "utf8")) as Record<
    string,
    ParityEntry
  >;
  const model = bundle.name;
  const infer = `${url}/v2/models/${encodeURIComponent(model)}/infer`;
  const auth = { authorization: `Bearer ${token}` };

  const ready = await waitReady();
  report({ check: "ready", ok: ready, url });
  if (!ready) return;

  const anonymous = await fetch(infer, { method: "POST", body: "{}" });
  const wrong = await fetch(infer, {
    method: "POST",
    body: "{}",
    headers: { authorization: `Bearer x${token}` },
  });
  report({
    check: "auth",
    ok: token.length >= 32 && anonymous.status === 401 && wrong.status === 401,
    withoutToken: anonymous.status,
    wrongToken: wrong.status,
    tokenSet: token.length >= 32,
  });

  const meta = await fetch(`${url}/v2/models/${encodeURIComponent(model)}`, { headers: auth });
  const parameters = meta.ok
    ? ((await meta.json()) as { parameters: Record<string, string> }).parameters
    : {};
  const variant = parameters.variant ?? "";
  report({
    check: "provider",
    ok: meta.ok && parameters.provider === values["expect-provider"],
    status: meta.status,
    provider: parameters.provider,
    expected: values["expect-provider"],
    variant,
  });

  const served = await fetch(`${url}/v2/models/${encodeURIComponent(model)}/bundle`, { headers: auth });
  const servedBundle = served.ok ? ((await served.json()) as typeof bundle) : undefined;
  report({
    check: "bundle",
    ok: servedBundle?.tokenizer.vocabSha256 === bundle.tokenizer.vocabSha256,
    served: servedBundle?.tokenizer.vocabSha256 ?? `HTTP ${served.status}`,
    local: bundle.tokenizer.vocabSha256,
  });

  const expected = parity[variant]?.test;
  if (expected === undefined) {
    report({ check: "parity", ok: false, error: `parity.json has no test figures for variant "${variant}"` });
    return;
  }
  const measured = await measureServedAccuracy({
    url,
    model,
    token,
    dataFile: values.data!,
    vocabFile: join(values.bundle!, bundle.tokenizer.vocab),
    labels,
    maxLength: bundle.maxLength,
  });
  report({
    check: "parity",
    ok:
      measured.n === expected.n &&
      Math.abs(measured.accuracy - expected.accuracy) <= tolerance &&
      Math.abs(measured.f1Macro - expected.f1Macro) <= tolerance,
    variant,
    measured,
    expected,
    tolerance,
    textsPerSecond: Math.round(measured.n / measured.seconds),
  });
}

main().then(
  () => {
    const failed = checks.filter((c) => !c.ok).map((c) => c.check);
    process.stdout.write(`${JSON.stringify({ check: "summary", ok: failed.length === 0, failed })}\n`);
    process.exit(failed.length === 0 ? 0 : 1);
  },
  (error: unknown) => {
    process.stdout.write(`${JSON.stringify({ check: "error", ok: false, error: String(error) })}\n`);
    process.exit(1);
  },
);
