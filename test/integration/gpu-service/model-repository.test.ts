/**
 * gpu-service's model repository (--model-repository, KServe V2 repository extension): models load,
 * reload and unload at runtime, each with its own readiness, while the others keep answering.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
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
