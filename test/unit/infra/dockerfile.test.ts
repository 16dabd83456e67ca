/**
 * Docker cannot run here and hadolint is not installed: these checks hold the gpu-service image's
 * essentials (see docs/DEPLOY.md, "How the container was checked").
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findSecretLiterals } from "./terraform-lint.ts";

const ROOT = join(import.meta.dirname, "../../..");
const raw = readFileSync(join(ROOT, "gpu-service/Dockerfile"), "utf8");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

/** Instructions with line continuations joined and comments dropped. */
export function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

const ins = instructions(raw);
const args = Object.fromEntries(
  ins.filter((i) => i.op === "ARG" && i.args.includes("=")).map((i) => i.args.split("=") as [string, string]),
);
const resolveArg = (s: string) => s.replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? `\${${k}}`);
const stages = ins.filter((i) => i.op === "FROM").map((i) => resolveArg(i.args.split(/\s+/)[0]!));
const runtimeStart = ins.map((i) => i.op).lastIndexOf("FROM");
const runtime = ins.slice(runtimeStart);

describe("gpu-service/Dockerfile", () => {
  it("every base image is pinned by a version tag (no latest, no bare name)", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const image of stages) expect(image, image).toMatch(/^[\w./-]+:(?!latest)[\w.-]*\d[\w.-]*$/);
  });

  it("the runtime stage is an NVIDIA CUDA 12 runtime image with cuDNN", () => {
    expect(stages.at(-1)).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$/);
  });

  it("uses the repository's Node and onnxruntime-node versions", () => {
    expect(args.NODE_VERSION).toBe("20.20.2");
    expect(raw).toMatch(/dependencies\["onnxruntime-node"\]/);
    expect(pkg.dependencies["onnxruntime-node"]).toMatch(/^1\./);
  });

  it("installs onnxruntime-node's CUDA execution provider at build time and checks it landed", () => {
    const ort = ins.findIndex((i) => i.op === "ENV" && /ONNXRUNTIME_NODE_INSTALL=cuda12/.test(i.args));
    expect(ort).toBeGreaterThan(-1);
    const install = ins.findIndex((i, n) => n > ort && i.op === "RUN" && /npm install/.test(i.args));
    expect(install).toBeGreaterThan(ort);
    expect(ins[install]!.args).toMatch(/libonnxruntime_providers_cuda\.so/);
    expect(runtime.some((i) => i.op === "COPY" && /--from=ort .*node_modules/.test(i.args))).toBe(true);
  });

  it("runs as a non-root user", () => {
    const users = runtime.filter((i) => i.op === "USER");
    expect(users).toHaveLength(1);
    expect(users[0]!.args).not.toMatch(/^(root|0)(:|$)/);
    const userAt = runtime.indexOf(users[0]!);
    expect(runtime.slice(userAt).some((i) => i.op === "RUN")).toBe(false);
  });

  it("health-checks /v2/health/ready and starts the bundled service on CUDA", () => {
    const hc = runtime.find((i) => i.op === "HEALTHCHECK");
    expect(hc?.args).toMatch(/\/v2\/health\/ready/);
    expect(hc?.args).toMatch(/CMD/);
    expect(runtime.find((i) => i.op === "ENTRYPOINT")?.args).toMatch(/gpu-service\.mjs/);
    expect(runtime.some((i) => i.op === "ENV" && /GPU_DEVICE=cuda/.test(i.args))).toBe(true);
    expect(runtime.some((i) => i.op === "ENV" && /GPU_HOST=0\.0\.0\.0/.test(i.args))).toBe(true);
  });

  it("bakes in no secrets (no token or pepper in ENV/ARG, no secret literals)", () => {
    for (const i of ins.filter((i) => i.op === "ENV" || i.op === "ARG"))
      expect(i.args, i.args).not.toMatch(/TOKEN|PEPPER|PASSWORD|SECRET|API_KEY/i);
    expect(findSecretLiterals(raw)).toEqual([]);
  });

  it("the build context excludes node_modules, .git, local secrets and build output", () => {
    const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
    for (const p of ["**/node_modules", ".git", "dist", "**/.dev.vars", ".env"]) expect(ignore).toContain(p);
  });

  it("the instruction parser joins continuations and skips comments", () => {
    expect(instructions("# c\nRUN a \\\n  b\nUSER x")).toEqual([
      { op: "RUN", args: "a b" },
      { op: "USER", args: "x" },
    ]);
  });
});
