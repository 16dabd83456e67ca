/**
 * The go-live smoke test (gpu-service/tools/smoke-test.ts) against the real service on CPU: it passes
 * on a correct deployment and names the check that fails on a wrong provider, a missing token or a
 * bundle whose parity figures the served model does not reproduce.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const TOKEN = "smoke-test-upstream-token-0123456789";
let service: GpuServiceHandle;
let tampered: string;

beforeAll(async () => {
  service = await startGpuService({ authToken: TOKEN, args: ["--variant", "fp32"] });
  // The bundle's small files with a parity figure 2 points above what the model scores.
  tampered = mkdtempSync(join(tmpdir(), "smoke-bundle-"));
  for (const f of ["bundle.json", "labels.json", "vocab.txt"])
    copyFileSync(join(ROOT, "models/massive-scratch", f), join(tampered, f));
  const parity = JSON.parse(readFileSync(join(ROOT, "models/massive-scratch/parity.json"), "utf8"));
  parity.fp32.test.accuracy += 0.02;
  writeFileSync(join(tampered, "parity.json"), JSON.stringify(parity));
});
afterAll(async () => {
  await service?.stop();
  rmSync(tampered, { recursive: true, force: true });
});

function smoke(args: string[], token: string | undefined) {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "gpu-service/tools/smoke-test.ts", "--url", service.url, "--wait-s", "5", ...args],
    {
      cwd: ROOT,
      env: { ...process.env, INTENTQL_UPSTREAM_TOKEN: token ?? "" },
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { check: string; ok: boolean; failed?: string[] });
  return { status: r.status, lines, summary: lines.at(-1)! };
}

describe("gpu-service go-live smoke test", () => {
  it("passes on a correct deployment: ready, auth closed, provider, bundle, parity with parity.json", () => {
    const r = smoke(["--expect-provider", "cpu"], TOKEN);
    expect(r.lines.map((l) => [l.check, l.ok])).toEqual([
      ["ready", true],
      ["auth", true],
      ["provider", true],
      ["bundle", true],
      ["parity", true],
      ["summary", true],
    ]);
    expect(r.status).toBe(0);
  });

  it("fails when the model runs on another provider than expected (a CUDA image fallen back to CPU)", () => {
    const r = smoke(["--expect-provider", "cuda"], TOKEN);
    expect(r.status).toBe(1);
    expect(r.summary.failed).toEqual(["provider"]);
  });

  it("fails when the measured accuracy is off the bundle's parity figures", () => {
    const r = smoke(["--expect-provider", "cpu", "--bundle", tampered], TOKEN);
    expect(r.status).toBe(1);
    expect(r.summary.failed).toEqual(["parity"]);
  });

  it("fails without the token", () => {
    const r = smoke(["--expect-provider", "cpu"], undefined);
    expect(r.status).toBe(1);
    expect(r.lines.find((l) => l.check === "auth")?.ok).toBe(false);
  });
});
