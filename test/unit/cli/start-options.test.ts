import { spawnSync } from "node:child_process";
import { type AddressInfo, createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../../cli/src/args.ts";
import { keyLines, nextSteps, startOptions } from "../../../cli/src/start-options.ts";

const KEY = "iql_0123456789ab_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

describe("npm start's options", () => {
  it("reads the ports and --new-key", () => {
    expect(startOptions([], {})).toEqual({
      gpuPort: 8500,
      edgePort: 8787,
      rotateKey: false,
      gpuVariant: "fp32",
    });
    expect(startOptions(["--new-key"], { EDGE_PORT: "8790", GPU_PORT: "" })).toEqual({
      gpuPort: 8500,
      edgePort: 8790,
      rotateKey: true,
      gpuVariant: "fp32",
    });
  });

  it("takes INTENTQL_API_KEY as a second key for the run, with or without --new-key", () => {
    expect(startOptions([], { INTENTQL_API_KEY: KEY })).toEqual({
      gpuPort: 8500,
      edgePort: 8787,
      rotateKey: false,
      envKey: KEY,
      gpuVariant: "fp32",
    });
    // The local key and the environment's are separate now: rotating the local one is fine.
    expect(startOptions(["--new-key"], { INTENTQL_API_KEY: KEY })).toMatchObject({
      rotateKey: true,
      envKey: KEY,
    });
    // An empty variable is no key.
    expect(startOptions([], { INTENTQL_API_KEY: "" })).not.toHaveProperty("envKey");
  });

  it("refuses a malformed INTENTQL_API_KEY without repeating it", () => {
    const bad = "not-a-key-but-maybe-a-secret";
    expect(() => startOptions([], { INTENTQL_API_KEY: bad })).toThrow(UsageError);
    try {
      startOptions([], { INTENTQL_API_KEY: bad });
    } catch (error) {
      expect((error as Error).message).toMatch(/INTENTQL_API_KEY is set but is not an IntentQL key/);
      expect((error as Error).message).not.toContain(bad);
    }
  });

  it("refuses unknown options, bad ports and a bad GPU_VARIANT as usage errors naming the setting", () => {
    expect(() => startOptions(["--newkey"], {})).toThrow(/unknown option --newkey/);
    expect(() => startOptions([], { EDGE_PORT: "80a" })).toThrow(UsageError);
    expect(() => startOptions([], { GPU_PORT: "70000" })).toThrow(/GPU_PORT must be a port number/);
    expect(() => startOptions([], { GPU_PORT: "8600", EDGE_PORT: "8600" })).toThrow(
      /EDGE_PORT and GPU_PORT are both 8600/,
    );
    expect(() => startOptions([], { GPU_VARIANT: "int4" })).toThrow(
      /GPU_VARIANT must be one of fp32, fp16, int8, got "int4"/,
    );
    expect(startOptions([], { GPU_VARIANT: "int8" }).gpuVariant).toBe("int8");
  });

  it("--help and -h ask for the usage", () => {
    expect(startOptions(["--help"], {}).help).toBe(true);
    expect(startOptions(["-h"], {}).help).toBe(true);
    expect(startOptions([], {})).not.toHaveProperty("help");
  });

  it("prints the usage for --help and exits 0, starting nothing", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "cli/src/start.ts", "--help"], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^npm start \[-- --new-key\]/);
    expect(r.stdout).toMatch(/GPU_VARIANT/);
  });

  it("exits 2 naming the setting when a port is taken, before starting anything", async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    const taken = (holder.address() as AddressInfo).port;
    try {
      const r = spawnSync(process.execPath, ["--import", "tsx", "cli/src/start.ts"], {
        env: {
          ...process.env,
          GPU_PORT: String(taken),
          EDGE_PORT: String(taken === 65535 ? 65534 : taken + 1),
        },
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(
        `npm start: port ${taken} (GPU_PORT) is in use: stop what holds it, or set GPU_PORT`,
      );
      expect(r.stderr).not.toMatch(/applying local D1 migrations/);
    } finally {
      holder.close();
    }
  });

  it("exits 2 with the message, starting nothing, for a malformed INTENTQL_API_KEY", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "cli/src/start.ts"], {
      env: { ...process.env, INTENTQL_API_KEY: "iql_secret-looking-value" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^npm start: INTENTQL_API_KEY is set but is not an IntentQL key/);
    expect(r.stderr + r.stdout).not.toContain("secret-looking-value");
  });
});

describe("npm start's key lines", () => {
  const LOCAL = "iql_fedcba987654_ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj";
  const base = "http://127.0.0.1:8787";

  it("print the local key and the dashboard link with it only when the key is new", () => {
    const fresh = keyLines(base, { local: LOCAL, localIsNew: true }).join("\n");
    expect(fresh).toContain(`${base}/dashboard#key=${LOCAL}`);
    expect(fresh).toMatch(new RegExp(`API key +${LOCAL} \\(new;`));
    const again = keyLines(base, { local: LOCAL, localIsNew: false }).join("\n");
    expect(again).not.toContain(LOCAL);
    expect(again).toContain("iql_fedcba987654_…");
    expect(again).toMatch(/dashboard +\(log in with the local key/);
  });

  it("never print INTENTQL_API_KEY's secret: its id only, and only when it is another key", () => {
    for (const localIsNew of [true, false]) {
      const lines = keyLines(base, { local: LOCAL, localIsNew, envKey: KEY }).join("\n");
      expect(lines).not.toContain(KEY);
      expect(lines).not.toContain(KEY.slice(17));
      expect(lines).toContain("iql_0123456789ab_… (INTENTQL_API_KEY) works too; kept only hashed");
    }
    expect(keyLines(base, { local: LOCAL, localIsNew: false, envKey: LOCAL }).join("\n")).not.toMatch(
      /INTENTQL_API_KEY/,
    );
  });
});

describe("npm start's next steps", () => {
  it("point the CLI at a non-default EDGE_PORT, and say nothing of the port otherwise", () => {
    const custom = nextSteps(8790);
    expect(custom).toContain("  export EDGE_PORT=8790");
    expect(custom.findIndex((l) => l.includes("EDGE_PORT"))).toBeLessThan(
      custom.findIndex((l) => l.includes("npx intentql")),
    );
    expect(nextSteps(8787).join("\n")).not.toMatch(/EDGE_PORT/);
    expect(nextSteps(8787).join("\n")).toMatch(/npx intentql classify/);
  });
});
