/**
 * gpu-service's model repository (--model-repository, KServe V2 repository extension): models load,
 * reload and unload at runtime, each with its own readiness, while the others keep answering.
 */
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainExampleModel } from "../../support/custom-model.ts";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";
import { jsonInfer } from "./client.ts";

// Run with HTTP parsed on the main thread, and on two HTTP threads (--http-threads) that forward
// rows to the main thread's batcher: the same behaviour either way.
const MODES = [
  { mode: "HTTP on the main thread", args: [] as string[] },
  { mode: "2 HTTP threads", args: ["--http-threads", "2"] },
];

describe.each(MODES)("$mode", ({ args }) => {
  // A repository per mode: the tests below add folders to it.
  const repo = mkdtempSync(join(tmpdir(), "intentql-repository-"));
  symlinkSync(resolve("models/massive-scratch"), join(repo, "massive-scratch"));
  let gpu: GpuServiceHandle;

  beforeAll(async () => {
    gpu = await startGpuService({ args: ["--model-repository", repo, ...args] });
  }, 120_000);
  afterAll(() => gpu?.stop());

  const post = async (path: string) => {
    const r = await fetch(`${gpu.url}${path}`, { method: "POST" });
    return { status: r.status, body: (await r.json()) as any };
  };
  const infer = async (model: string, ids: number[][]) => {
    const r = await fetch(`${gpu.url}/v2/models/${model}/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: jsonInfer(ids),
    });
    return r.status;
  };

  describe("gpu-service --model-repository", () => {
    it("serves every bundle folder of the repository at start", async () => {
      const index = await post("/v2/repository/index");
      expect(index.status).toBe(200);
      expect(index.body).toEqual([{ name: "massive-scratch", version: expect.any(String), state: "READY" }]);
      expect((await fetch(`${gpu.url}/v2`).then((r) => r.json())).extensions).toContain("model_repository");
    });

    it("loads a model trained after start, serves it next to the others, and unloads it", async () => {
      trainExampleModel(join(repo, "my-intents"), "--epochs", "5");
      expect((await post("/v2/repository/index")).body).toContainEqual({
        name: "my-intents",
        state: "UNLOADED",
      });
      expect(await infer("my-intents", [[101, 2000, 102]])).toBe(404);

      expect(await post("/v2/repository/models/my-intents/load")).toEqual({ status: 200, body: {} });
      expect((await fetch(`${gpu.url}/v2/models/my-intents/ready`)).status).toBe(200);
      expect(await infer("my-intents", [[101, 2000, 102]])).toBe(200);
      expect(await infer("massive-scratch", [[2, 100, 3]])).toBe(200);

      expect(await post("/v2/repository/models/my-intents/unload")).toEqual({ status: 200, body: {} });
      expect(await infer("my-intents", [[101, 2000, 102]])).toBe(404);
      expect(await infer("massive-scratch", [[2, 100, 3]])).toBe(200);
      expect((await post("/v2/repository/models/my-intents/unload")).status).toBe(404);
    }, 120_000);

    it("reloads a model while requests flow: none of them fails", async () => {
      const requests = Array.from({ length: 40 }, (_, i) => infer("massive-scratch", [[2, 100 + i, 3]]));
      const reload = post("/v2/repository/models/massive-scratch/load");
      const statuses = await Promise.all(requests);
      expect((await reload).status).toBe(200);
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(await infer("massive-scratch", [[2, 100, 3]])).toBe(200);
    }, 120_000);

    it("refuses what it cannot load with a reason, and keeps the rest serving", async () => {
      mkdirSync(join(repo, "broken"));
      writeFileSync(join(repo, "broken", "bundle.json"), "{}");
      const broken = await post("/v2/repository/models/broken/load");
      expect(broken.status).toBe(400);
      expect(broken.body.error).toMatch(/cannot load broken: bundle .*broken: format is undefined/);
      expect((await post("/v2/repository/index")).body).toContainEqual({
        name: "broken",
        state: "UNLOADED",
        reason: expect.stringMatching(/format is undefined/),
      });
      expect((await post("/v2/repository/models/absent/load")).status).toBe(404);
      expect((await post("/v2/repository/models/..%2F..%2Fetc/load")).status).toBe(400);
      expect((await fetch(`${gpu.url}/v2/repository/index`)).status).toBe(405);
      expect(await infer("massive-scratch", [[2, 100, 3]])).toBe(200);
    });
  });
});

describe("gpu-service --model-repository at start", () => {
  /** A folder named `name` whose bundle.json is the default's with its output shape taken out. */
  function brokenFolder(repo: string, name: string): void {
    const manifest = JSON.parse(readFileSync("models/massive-scratch/bundle.json", "utf8"));
    manifest.name = name;
    delete manifest.outputs[0].shape;
    mkdirSync(join(repo, name));
    writeFileSync(join(repo, name, "bundle.json"), JSON.stringify(manifest));
  }

  it("serves the folders that load, and lists one that does not as UNLOADED with its reason", async () => {
    const repo = mkdtempSync(join(tmpdir(), "intentql-repository-"));
    symlinkSync(resolve("models/massive-scratch"), join(repo, "massive-scratch"));
    brokenFolder(repo, "zz-broken");
    const gpu = await startGpuService({ args: ["--model-repository", repo] });
    try {
      const index = await fetch(`${gpu.url}/v2/repository/index`, { method: "POST" }).then((r) => r.json());
      expect(index).toEqual([
        { name: "massive-scratch", version: expect.any(String), state: "READY" },
        {
          name: "zz-broken",
          state: "UNLOADED",
          reason: expect.stringMatching(/the output's shape must be two integers/),
        },
      ]);
      expect(gpu.logs.join("\n")).toMatch(/"event":"model_load_failed".*"model":"zz-broken"/);
    } finally {
      await gpu.stop();
    }
  }, 120_000);

  it("refuses at load a model with fewer embedding rows than its vocab has entries", async () => {
    const repo = mkdtempSync(join(tmpdir(), "intentql-repository-"));
    const dir = join(repo, "wide-vocab");
    cpSync("models/massive-scratch", dir, { recursive: true });
    const vocab = `${readFileSync(join(dir, "vocab.txt"), "utf8")}${Array.from({ length: 10 }, (_, i) => `extra${i}`).join("\n")}\n`;
    writeFileSync(join(dir, "vocab.txt"), vocab);
    const manifest = JSON.parse(readFileSync(join(dir, "bundle.json"), "utf8"));
    const digest = createHash("sha256").update(vocab).digest("hex");
    manifest.name = "wide-vocab";
    manifest.tokenizer.vocabSha256 = digest;
    manifest.tokenizer.vocabSize += 10;
    const file = manifest.files.find((f: { path: string }) => f.path === "vocab.txt");
    file.sha256 = digest;
    file.bytes = Buffer.byteLength(vocab);
    writeFileSync(join(dir, "bundle.json"), JSON.stringify(manifest));
    symlinkSync(resolve("models/massive-scratch"), join(repo, "massive-scratch"));
    const gpu = await startGpuService({ args: ["--model-repository", repo] });
    try {
      const index = await fetch(`${gpu.url}/v2/repository/index`, { method: "POST" }).then((r) => r.json());
      expect(index).toContainEqual({
        name: "wide-vocab",
        state: "UNLOADED",
        reason: expect.stringMatching(
          new RegExp(`the model fails on token id ${manifest.tokenizer.vocabSize - 1}, its vocab's last`),
        ),
      });
      expect(index).toContainEqual({ name: "massive-scratch", version: expect.any(String), state: "READY" });
    } finally {
      await gpu.stop();
    }
  }, 120_000);

  it("fails to start when no folder of the repository loads", async () => {
    const repo = mkdtempSync(join(tmpdir(), "intentql-repository-"));
    brokenFolder(repo, "only-broken");
    await expect(startGpuService({ args: ["--model-repository", repo] })).rejects.toThrow(
      /exited with 1 before ready[\s\S]*no model of the repository loaded: cannot load only-broken/,
    );
  }, 120_000);
});
