/**
 * Docker cannot run here and hadolint is not installed: these checks hold the gpu-service image's
 * essentials (see docs/DEPLOY.md, "How the container was checked").
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findSecretLiterals } from "./terraform-lint.ts";

const ROOT = join(import.meta.dirname, "../../..");
const raw = readFileSync(join(ROOT, "gpu-service/Dockerfile"), "utf8");
const readJson = (path: string) => JSON.parse(readFileSync(join(ROOT, path), "utf8"));
const pkg = readJson("package.json");
const servicePkg = readJson("gpu-service/package.json");
const imagePkg = readJson("gpu-service/docker/package.json");
const imageLock = readJson("gpu-service/docker/package-lock.json");
const provider = readJson("gpu-service/docker/cuda-provider.json") as {
  package: string;
  onnxruntimeNode: string;
  cudaMajor: number;
  cudnnMajor: number;
  libs: Record<string, { sha256: string; needed: string[] }>;
};

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

  it("the runtime base's CUDA major is the one the pinned CUDA provider links, with its cuDNN", () => {
    const base = /^nvidia\/cuda:(\d+)\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$/.exec(stages.at(-1)!);
    expect(base, stages.at(-1)).not.toBeNull();
    const cudart = provider.libs["libonnxruntime_providers_cuda.so"]!.needed.find((l) =>
      l.startsWith("libcudart.so."),
    );
    expect(Number(cudart!.split(".").at(-1))).toBe(provider.cudaMajor);
    expect(Number(base![1])).toBe(provider.cudaMajor);
    // cuDNN 9 comes with the "-cudnn-" flavour of every CUDA 12.x/13.x image.
    expect(provider.cudnnMajor).toBe(9);
  });

  it("copies every workspace's package.json before `npm ci` in the build stage", () => {
    const ci = ins.findIndex((i) => i.op === "RUN" && /\bnpm ci\b/.test(i.args));
    const copied = ins
      .slice(0, ci)
      .filter((i) => i.op === "COPY")
      .map((i) => i.args);
    expect(pkg.workspaces.length).toBeGreaterThan(0);
    for (const workspace of pkg.workspaces as string[])
      expect(copied, workspace).toContain(`${workspace}/package.json ${workspace}/`);
  });

  it("uses the repository's Node (.nvmrc) and onnxruntime-node versions everywhere", () => {
    const nvmrc = readFileSync(join(ROOT, ".nvmrc"), "utf8").trim();
    expect(args.NODE_VERSION!.split(".")[0]).toBe(nvmrc);
    const version = servicePkg.dependencies["onnxruntime-node"];
    expect(imagePkg.dependencies["onnxruntime-node"]).toBe(version);
    expect(imageLock.packages["node_modules/onnxruntime-node"].version).toBe(version);
    expect(provider.onnxruntimeNode).toBe(version);
    const [name, providerVersion] = provider.package.split("@");
    expect(imagePkg.dependencies[name!]).toBe(providerVersion);
    expect(imageLock.packages[`node_modules/${name}`].version).toBe(providerVersion);
  });

  it("installs the CUDA provider from the lockfile, verifies each .so by sha256, and checks its libraries", () => {
    expect(ins.some((i) => /ONNXRUNTIME_NODE_INSTALL/.test(i.args))).toBe(false);
    const ci = ins.findIndex(
      (i) =>
        i.op === "RUN" &&
        /\bnpm ci\b.*--ignore-scripts/.test(i.args) &&
        /cuda-provider\.mjs install/.test(i.args),
    );
    expect(ci).toBeGreaterThan(-1);
    expect(ins.some((i) => i.op === "RUN" && /npm install/.test(i.args))).toBe(false);
    for (const [, lib] of Object.entries(provider.libs)) expect(lib.sha256).toMatch(/^[0-9a-f]{64}$/);
    for (const dep of Object.keys(imagePkg.dependencies))
      expect(imageLock.packages[`node_modules/${dep}`].integrity, dep).toMatch(/^sha512-/);
    const check = runtime.findIndex((i) => i.op === "RUN" && /cuda-provider\.mjs check/.test(i.args));
    expect(check).toBeGreaterThan(0);
    expect(runtime.some((i) => i.op === "COPY" && /--from=ort .*node_modules/.test(i.args))).toBe(true);
  });

  it("ships every worker-thread bundle the service loads from next to gpu-service.mjs", () => {
    // gpu-service/build.mjs bundles each thread's entry on its own (worker-entry.ts finds it there).
    const build = readFileSync(join(ROOT, "gpu-service/build.mjs"), "utf8");
    const threads = [...build.matchAll(/"(gpu-service-[a-z-]+-thread)":/g)].map((m) => m[1]!);
    expect(threads.sort()).toEqual(["gpu-service-http-thread", "gpu-service-session-thread"]);
    const copied = runtime.filter((i) => i.op === "COPY" && /--from=build/.test(i.args)).map((i) => i.args);
    for (const thread of threads)
      expect(
        copied.some((c) => c.includes(`/src/dist/${thread}.mjs`)),
        thread,
      ).toBe(true);
  });

  it("ships the go-live smoke test and the split it scores", () => {
    expect(runtime.some((i) => i.op === "COPY" && /smoke-test\.mjs/.test(i.args))).toBe(true);
    expect(runtime.some((i) => i.op === "COPY" && /data\/massive-en\/test\.jsonl/.test(i.args))).toBe(true);
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
    for (const p of ["**/node_modules", ".git", "dist", "**/.dev.vars", "**/.env", "**/.env.*"])
      expect(ignore).toContain(p);
    for (const p of [
      "**/.terraform",
      "**/*.tfstate",
      "**/*.tfstate.*",
      "**/*.tfvars",
      "**/.terraform.lock.hcl",
    ])
      expect(ignore).toContain(p);
  });

  it("git ignores Terraform state, tfvars and provider caches", () => {
    const r = spawnSync(
      "git",
      [
        "check-ignore",
        "--no-index",
        "infra/terraform/envs/prod/terraform.tfstate",
        "infra/terraform/envs/prod/terraform.tfstate.backup",
        "infra/terraform/envs/prod/.terraform/providers/x",
        "infra/terraform/envs/prod/terraform.tfvars",
        "infra/terraform/envs/prod/prod.auto.tfvars",
        "infra/terraform/envs/prod/backend.tf",
      ],
      { cwd: ROOT, encoding: "utf8" },
    );
    expect(r.stdout.trim().split("\n")).toHaveLength(6);
    // The committed examples stay tracked.
    expect(
      spawnSync("git", ["check-ignore", "--no-index", "infra/terraform/envs/prod/terraform.tfvars.example"], {
        cwd: ROOT,
      }).status,
    ).toBe(1);
  });

  it("the instruction parser joins continuations and skips comments", () => {
    expect(instructions("# c\nRUN a \\\n  b\nUSER x")).toEqual([
      { op: "RUN", args: "a b" },
      { op: "USER", args: "x" },
    ]);
  });
});

describe("gpu-service/docker/cuda-provider.mjs", () => {
  const script = join(ROOT, "gpu-service/docker/cuda-provider.mjs");
  const BINDING = "node_modules/onnxruntime-node/bin/napi-v6/linux/x64";
  const PROVIDER = "node_modules/com.github.asus4.onnxruntime.linux-x64-gpu/Plugins/Linux/x64";

  it("install refuses a provider library whose sha256 is not the pinned one", () => {
    const dir = mkdtempSync(join(tmpdir(), "cuda-provider-"));
    try {
      mkdirSync(join(dir, PROVIDER), { recursive: true });
      mkdirSync(join(dir, BINDING), { recursive: true });
      for (const lib of Object.keys(provider.libs))
        writeFileSync(join(dir, PROVIDER, lib), "not the pinned file");
      const r = spawnSync(process.execPath, [script, "install", dir], { encoding: "utf8" });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/sha256 [0-9a-f]{64}, pinned [0-9a-f]{64}/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const cc = spawnSync("cc", ["--version"]).status === 0;
  if (!cc) console.log("cuda-provider ldd check test skipped: no C compiler (cc) on PATH");
  it.skipIf(!cc)(
    "check fails the build when a library the provider links is missing (ldd), naming it",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "cuda-provider-"));
      try {
        const bin = join(dir, BINDING);
        mkdirSync(bin, { recursive: true });
        copyFileSync(join(ROOT, BINDING, "onnxruntime_binding.node"), join(bin, "onnxruntime_binding.node"));
        // A provider that links a library the image lacks: built against it, then the library removed.
        writeFileSync(join(dir, "gone.c"), "int gone(void) { return 1; }\n");
        writeFileSync(join(dir, "p.c"), "int gone(void); int p(void) { return gone(); }\n");
        execFileSync("cc", ["-shared", "-fPIC", "-o", join(dir, "libintentqlgone.so"), join(dir, "gone.c")]);
        for (const lib of Object.keys(provider.libs))
          execFileSync("cc", [
            "-shared",
            "-fPIC",
            "-o",
            join(bin, lib),
            join(dir, "p.c"),
            `-L${dir}`,
            "-lintentqlgone",
          ]);
        rmSync(join(dir, "libintentqlgone.so"));
        const r = spawnSync(process.execPath, [script, "check", dir], { encoding: "utf8" });
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/libonnxruntime_providers_cuda\.so: libintentqlgone\.so/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
