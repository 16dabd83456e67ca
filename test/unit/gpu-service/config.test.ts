import { describe, expect, it } from "vitest";
import { spinWaitFor } from "../../../gpu-service/src/backends/session-thread.ts";
import {
  ConfigError,
  DEFAULT_BUNDLE,
  INT_FLAGS,
  parseConfig,
  splitRowsFor,
} from "../../../gpu-service/src/config.ts";

const TOKEN = "t".repeat(32);
const NEXT = "n".repeat(40);

describe("gpu-service config", () => {
  it("has documented defaults", () => {
    const c = parseConfig([], { INTENTQL_UPSTREAM_TOKEN: TOKEN });
    expect(c).toMatchObject({
      host: "127.0.0.1",
      port: 8500,
      bundles: [DEFAULT_BUNDLE],
      device: "auto",
      variant: undefined,
      authTokens: [TOKEN],
      padMultiple: 1,
      maxQueueDelayUs: 0,
      httpThreads: 0,
      shapeBuckets: "auto",
      minSplitRows: "auto",
    });
    expect(c.maxBatchSize).toBe(INT_FLAGS.maxBatchSize.def);
  });

  it("flags win over env vars, env vars over defaults", () => {
    const env = {
      GPU_PORT: "9000",
      GPU_MAX_BATCH_SIZE: "64",
      INTENTQL_BUNDLES: "a, b,",
      INTENTQL_UPSTREAM_TOKEN: TOKEN,
    };
    const fromEnv = parseConfig([], env);
    expect(fromEnv).toMatchObject({ port: 9000, maxBatchSize: 64, bundles: ["a", "b"], authTokens: [TOKEN] });
    const fromFlags = parseConfig(
      ["--port", "9100", "--bundle", "x", "--bundle", "y", "--device", "cpu"],
      env,
    );
    expect(fromFlags).toMatchObject({ port: 9100, maxBatchSize: 64, bundles: ["x", "y"], device: "cpu" });
  });

  it("reads --http-threads and --shape-buckets from flags or env, and names a bad value", () => {
    const env = { INTENTQL_UPSTREAM_TOKEN: TOKEN, GPU_HTTP_THREADS: "3", GPU_SHAPE_BUCKETS: "off" };
    expect(parseConfig([], env)).toMatchObject({ httpThreads: 3, shapeBuckets: "off" });
    expect(parseConfig(["--http-threads", "0", "--shape-buckets", "on"], env)).toMatchObject({
      httpThreads: 0,
      shapeBuckets: "on",
    });
    expect(() => parseConfig(["--shape-buckets", "maybe"], env)).toThrow(
      /--shape-buckets must be auto, on or off/,
    );
    expect(() => parseConfig(["--http-threads", "65"], env)).toThrow(
      /--http-threads must be between 0 and 64/,
    );
  });

  it("reads --min-split-rows (auto or a count) from the flag or GPU_MIN_SPLIT_ROWS", () => {
    const env = { INTENTQL_UPSTREAM_TOKEN: TOKEN, GPU_MIN_SPLIT_ROWS: "128" };
    expect(parseConfig([], env).minSplitRows).toBe(128);
    expect(parseConfig(["--min-split-rows", "0"], env).minSplitRows).toBe(0);
    expect(parseConfig(["--min-split-rows", "auto"], env).minSplitRows).toBe("auto");
    expect(() => parseConfig(["--min-split-rows", "some"], env)).toThrow(
      /--min-split-rows must be an integer/,
    );
    // auto: split on CPU (runs cost their tokens), not on CUDA (a small model's runs cost their launches)
    expect(splitRowsFor("auto", "cpu")).toBe(64);
    expect(splitRowsFor("auto", "cuda")).toBe(0);
    expect(splitRowsFor(128, "cuda")).toBe(128);
  });

  it("reads --spin-wait-us (auto or µs, at most 10 ms) from the flag or GPU_SPIN_WAIT_US", () => {
    const env = { INTENTQL_UPSTREAM_TOKEN: TOKEN };
    expect(parseConfig([], env).spinWaitUs).toBe("auto");
    expect(parseConfig([], { ...env, GPU_SPIN_WAIT_US: "2000" }).spinWaitUs).toBe(2000);
    expect(parseConfig(["--spin-wait-us", "0"], { ...env, GPU_SPIN_WAIT_US: "2000" }).spinWaitUs).toBe(0);
    expect(() => parseConfig(["--spin-wait-us", "10001"], env)).toThrow(
      /--spin-wait-us must be between 0 and 10000/,
    );
    expect(() => parseConfig(["--spin-wait-us", "2ms"], env)).toThrow(/--spin-wait-us must be an integer/);
    // auto: spin on CUDA (the thread waits on the GPU anyway), never on CPU (the core is the next run's)
    expect(spinWaitFor("auto", "cuda")).toBe(2000);
    expect(spinWaitFor("auto", "cpu")).toBe(0);
    expect(spinWaitFor(500, "cpu")).toBe(500);
    expect(spinWaitFor(undefined, "cuda")).toBe(0);
  });

  it("fails closed: a token of at least 32 characters, or --insecure-no-auth outside production", () => {
    expect(() => parseConfig([], {})).toThrow(/no auth token/);
    expect(() => parseConfig([], { NODE_ENV: "production" })).toThrow(/no auth token/);
    expect(() => parseConfig([], { INTENTQL_UPSTREAM_TOKEN: "t".repeat(31) })).toThrow(/got 31/);
    expect(() => parseConfig(["--auth-token", `${"t".repeat(31)} `], {})).toThrow(/printable ASCII/);
    expect(() => parseConfig(["--insecure-no-auth"], { NODE_ENV: "production" })).toThrow(/refused/);
    expect(() => parseConfig(["--insecure-no-auth"], { INTENTQL_UPSTREAM_TOKEN: TOKEN })).toThrow(
      /contradicts/,
    );
    // A next token alone is not a configuration: the current one is what the fleet serves with.
    expect(() => parseConfig([], { INTENTQL_UPSTREAM_TOKEN_NEXT: NEXT })).toThrow(/no auth token/);
    expect(parseConfig(["--insecure-no-auth"], {}).authTokens).toEqual([]);
    expect(parseConfig(["--insecure-no-auth"], { NODE_ENV: "development" }).authTokens).toEqual([]);
  });

  it("accepts the next token next to the current one during a rotation (flags over env)", () => {
    const env = { INTENTQL_UPSTREAM_TOKEN: TOKEN, INTENTQL_UPSTREAM_TOKEN_NEXT: NEXT };
    expect(parseConfig([], env).authTokens).toEqual([TOKEN, NEXT]);
    const other = "o".repeat(32);
    expect(parseConfig(["--auth-token-next", other], env).authTokens).toEqual([TOKEN, other]);
  });

  it("names the bad value", () => {
    const bad: [string[], Record<string, string>, RegExp][] = [
      [["--port", "70000"], {}, /--port must be between 0 and 65535, got 70000/],
      [["--max-queue-rows=-1"], {}, /--max-queue-rows must be an integer, got "-1"/],
      [[], { GPU_MAX_BATCH_TOKENS: "4" }, /GPU_MAX_BATCH_TOKENS must be between/],
      [["--device", "gpu"], {}, /--device must be auto, cpu or cuda, got "gpu"/],
      [["--log-level", "loud"], {}, /--log-level/],
      [["--host", ""], {}, /--host must not be empty/],
      [["stray"], {}, /Unexpected argument/],
    ];
    for (const [argv, env, message] of bad) {
      expect(() => parseConfig(argv, env)).toThrow(ConfigError);
      expect(() => parseConfig(argv, env)).toThrow(message);
    }
  });
});
