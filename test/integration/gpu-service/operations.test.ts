import { spawnSync } from "node:child_process";
import { connect } from "node:net";
import { resolve } from "node:path";
import { HEADER_LENGTH } from "@intentql/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";
import { binaryInfer, MODEL, postBinary } from "./client.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const LONG =
  "set an alarm for seven thirty tomorrow morning and then remind me to call my mother about the party";
const metric = async (url: string, name: string): Promise<number> => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{model="${MODEL}"\\} (\\d+)`, "m").exec(text)?.[1] ?? "NaN");
};

// Run with HTTP parsed on the main thread, and on two HTTP threads (--http-threads) that forward
// rows to the main thread's batcher: the same behaviour either way.
const MODES = [
  { mode: "HTTP on the main thread", args: [] as string[] },
  { mode: "2 HTTP threads", args: ["--http-threads", "2"] },
];

describe.each(MODES)("$mode", ({ args }) => {
  describe("gpu-service under pressure (one row per run, a queue of 64 rows)", () => {
    let service: GpuServiceHandle;
    beforeAll(async () => {
      service = await startGpuService({
        args: [
          "--variant",
          "fp32",
          "--max-batch-size",
          "1",
          "--max-queue-rows",
          "64",
          "--intra-op-threads",
          "1",
          ...args,
        ],
      });
    });
    afterAll(async () => {
      await service?.stop();
    });

    it("a full queue answers 503 with Retry-After at once, and the queued work still completes", async () => {
      // 12 requests of 16 rows arrive together: the queue (64 rows) holds 4 of them at most.
      const { body, headerLength } = binaryInfer(Array(16).fill(LONG));
      const results = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const started = performance.now();
          const res = await fetch(`${service.url}/v2/models/${MODEL}/infer`, {
            method: "POST",
            body: body.slice(),
            headers: { [HEADER_LENGTH]: String(headerLength) },
          });
          const bytes = await res.arrayBuffer();
          return {
            status: res.status,
            retryAfter: res.headers.get("retry-after"),
            bytes,
            ms: performance.now() - started,
          };
        }),
      );
      const refused = results.filter((r) => r.status === 503);
      const served = results.filter((r) => r.status === 200);
      expect(refused.length).toBeGreaterThan(0);
      expect(served.length).toBeGreaterThan(0);
      expect(served.length + refused.length).toBe(12);
      for (const r of refused) {
        expect(r.retryAfter).toBe("1");
        expect(JSON.parse(new TextDecoder().decode(r.bytes)).error).toMatch(
          /queue full: \d+ rows queued, limit 64/,
        );
      }
      // refused at once: faster than the slowest served request, which waited for its runs
      expect(Math.min(...refused.map((r) => r.ms))).toBeLessThan(Math.max(...served.map((r) => r.ms)));
      const after = await postBinary(service.url, ["hello there"]);
      expect(after.status).toBe(200);
    });

    it("counts infer requests in flight until they are answered (the fleet scales on it)", async () => {
      expect(await metric(service.url, "intentql_inflight_requests")).toBe(0);
      const pending = Promise.all(
        Array.from({ length: 3 }, () => postBinary(service.url, Array(16).fill(LONG))),
      );
      let seen = 0;
      for (let i = 0; i < 50 && seen === 0; i++)
        seen = await metric(service.url, "intentql_inflight_requests");
      expect(seen).toBeGreaterThan(0);
      expect(seen).toBeLessThanOrEqual(3);
      expect((await pending).map((r) => r.status)).toEqual([200, 200, 200]);
      expect(await metric(service.url, "intentql_inflight_requests")).toBe(0);
    });

    it("a request over the whole queue size is a 400, not a 503", async () => {
      const res = await postBinary(service.url, Array(65).fill("hi"));
      expect(res.status).toBe(400);
    });

    it("a client that disconnects takes its queued rows with it", async () => {
      const before = await metric(service.url, "intentql_model_runs_total");
      const blocker = postBinary(service.url, Array(8).fill(LONG));
      const controller = new AbortController();
      const { body, headerLength } = binaryInfer(Array(50).fill(LONG));
      const gone = fetch(`${service.url}/v2/models/${MODEL}/infer`, {
        method: "POST",
        body: body.slice(),
        headers: { [HEADER_LENGTH]: String(headerLength) },
        signal: controller.signal,
      }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 15));
      controller.abort();
      await gone;
      expect((await blocker).status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
      const runs = (await metric(service.url, "intentql_model_runs_total")) - before;
      // 8 runs for the blocker and far fewer than the 50 the gone request asked for
      expect(runs).toBeGreaterThanOrEqual(8);
      expect(runs).toBeLessThan(8 + 50);
      // and it did reach the server: its request was cut short as "aborted", not never sent
      const text = await (await fetch(`${service.url}/metrics`)).text();
      expect(text).toMatch(/^intentql_errors_total\{kind="aborted"\} 1$/m);
    });

    it("a client that goes away in the middle of its body is an abort, not a server error", async () => {
      const errors = async () => {
        const text = await (await fetch(`${service.url}/metrics`)).text();
        const count = (kind: string) =>
          Number(new RegExp(`^intentql_errors_total\\{kind="${kind}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
        return { aborted: count("aborted"), internal: count("internal") };
      };
      const before = await errors();
      const logged = service.logs.length;
      const { hostname, port } = new URL(service.url);
      for (let i = 0; i < 3; i++) {
        const socket = connect(Number(port), hostname);
        await new Promise((r) => socket.once("connect", r));
        socket.write(
          `POST /v2/models/${MODEL}/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"inputs":`,
        );
        await new Promise((r) => setTimeout(r, 50));
        socket.destroy();
      }
      await new Promise((r) => setTimeout(r, 200));
      const after = await errors();
      expect(after.aborted - before.aborted).toBe(3);
      expect(after.internal).toBe(before.internal);
      expect(service.logs.slice(logged).join("\n")).not.toMatch(/request_failed/);
    });
  });
});

describe("gpu-service lifecycle", () => {
  it.each(MODES)("SIGTERM drains queued requests, then exits 0 ($mode)", async ({ args }) => {
    const service = await startGpuService({
      args: ["--max-batch-size", "1", "--max-batch-tokens", "128", ...args],
    });
    const pending = postBinary(service.url, Array(20).fill(LONG));
    await new Promise((r) => setTimeout(r, 20));
    const code = service.stop();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.header.outputs[0]!.shape).toEqual([20, 60]);
    expect(await code).toBe(0);
    expect(service.logs.some((l) => l.includes('"event":"stopped"'))).toBe(true);
  });

  it("bad flags and env values exit 2 with a message naming them", () => {
    const run = (args: string[], env: Record<string, string> = {}) =>
      spawnSync(process.execPath, ["--import", "tsx", "gpu-service/src/main.ts", ...args], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        encoding: "utf8",
        timeout: 20_000,
      });
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--device", "tpu"], {}, /--device must be auto, cpu or cuda/],
      [["--max-batch-size", "0"], {}, /--max-batch-size must be between 1/],
      [[], { GPU_PORT: "http" }, /GPU_PORT must be an integer/],
      [["--pad-multiple", "4"], {}, /--pad-multiple must be 1 or 8/],
      [["--variant", "int4"], {}, /--variant must be one of/],
      [["--no-such-flag"], {}, /Unknown option/],
      // Fail closed: no token, a short one, or auth switched off where it must not be.
      [
        [],
        { NODE_ENV: "production", INTENTQL_UPSTREAM_TOKEN: "" },
        /no auth token: set INTENTQL_UPSTREAM_TOKEN/,
      ],
      [[], { INTENTQL_UPSTREAM_TOKEN: "" }, /no auth token/],
      [[], { INTENTQL_UPSTREAM_TOKEN: "x".repeat(31) }, /at least 32 characters, got 31/],
      [
        [],
        { INTENTQL_UPSTREAM_TOKEN: "x".repeat(32), INTENTQL_UPSTREAM_TOKEN_NEXT: "short" },
        /INTENTQL_UPSTREAM_TOKEN_NEXT .* at least 32 characters, got 5/,
      ],
      [
        ["--insecure-no-auth"],
        { NODE_ENV: "production" },
        /--insecure-no-auth is refused when NODE_ENV=production/,
      ],
      [["--insecure-no-auth", "--auth-token", "y".repeat(32)], {}, /--insecure-no-auth contradicts/],
    ];
    for (const [args, env, message] of cases) {
      const r = run(args, env);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it("a bad bundle refuses to start with a clear error", () => {
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "gpu-service/src/main.ts",
        "--port",
        "0",
        "--device",
        "cpu",
        "--insecure-no-auth",
        "--bundle",
        "test/nowhere",
      ],
      { cwd: ROOT, encoding: "utf8", timeout: 20_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bundle test\/nowhere: cannot read bundle.json/);
  });
});
