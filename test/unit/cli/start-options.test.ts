import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../../cli/src/args.ts";
import { nextSteps, startOptions } from "../../../cli/src/start-options.ts";

const KEY = "iql_0123456789ab_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

describe("npm start's options", () => {
  it("reads the ports and --new-key", () => {
    expect(startOptions([], {})).toEqual({ gpuPort: 8500, edgePort: 8787, rotateKey: false });
    expect(startOptions(["--new-key"], { EDGE_PORT: "8790", GPU_PORT: "" })).toEqual({
      gpuPort: 8500,
      edgePort: 8790,
      rotateKey: true,
    });
  });

  it("refuses --new-key while INTENTQL_API_KEY is set (that key would win over the new one)", () => {
    expect(() => startOptions(["--new-key"], { INTENTQL_API_KEY: KEY })).toThrow(UsageError);
    expect(() => startOptions(["--new-key"], { INTENTQL_API_KEY: KEY })).toThrow(/unset INTENTQL_API_KEY/);
    expect(startOptions([], { INTENTQL_API_KEY: KEY }).rotateKey).toBe(false);
    // An empty variable is no key: npm start makes or reuses the local one, so rotating it is fine.
    expect(startOptions(["--new-key"], { INTENTQL_API_KEY: "" }).rotateKey).toBe(true);
  });

  it("refuses unknown options and bad ports as usage errors", () => {
    expect(() => startOptions(["--newkey"], {})).toThrow(/unknown option --newkey/);
    expect(() => startOptions([], { EDGE_PORT: "80a" })).toThrow(UsageError);
    expect(() => startOptions([], { GPU_PORT: "70000" })).toThrow(/GPU_PORT must be a port number/);
  });

  it("exits 2 with the message, starting nothing, for --new-key with INTENTQL_API_KEY set", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "cli/src/start.ts", "--new-key"], {
      env: { ...process.env, INTENTQL_API_KEY: KEY },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^npm start: --new-key rotates the local key.*INTENTQL_API_KEY is set/);
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
