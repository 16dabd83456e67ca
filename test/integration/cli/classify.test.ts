/**
 * `intentql classify --model NAME` asks the API for that model, through the in-process edge (real
 * D1) over HTTP. The fake upstream serves only "my-intents" (the default bundle under another name),
 * so the edge's default model is unknown there: only a request that names the model is answered.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEdge, type TestEdge } from "../../support/edge-app.ts";
import { BUNDLE_DIR, type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";
import { runCli, serveFetch } from "../../support/serve-fetch.ts";

let upstream: FakeUpstream;
let t: TestEdge;
let http: Awaited<ReturnType<typeof serveFetch>>;

beforeAll(async () => {
  upstream = await startFakeUpstream({
    model: "my-intents",
    vocabText: readFileSync(resolve(BUNDLE_DIR, "vocab.txt"), "utf8"),
    manifestPatch: (m) => {
      m.name = "my-intents";
    },
  });
  t = await startTestEdge(upstream.url);
  http = await serveFetch((request) => t.edge.fetch(request));
});
afterAll(async () => {
  await http?.close();
  await t?.dispose();
  await upstream?.close();
});

const classify = (...args: string[]) =>
  runCli(["classify", "--endpoint", `${http.url}/graphql`, ...args], {
    ...process.env,
    INTENTQL_API_KEY: t.key,
  });

describe("intentql classify --model", { timeout: 30_000 }, () => {
  it("classifies with the named model", async () => {
    const r = await classify("--model", "my-intents", "--json", "wake me up at seven", "lights off");
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows.map((row) => [row.text, row.model])).toEqual([
      ["wake me up at seven", "my-intents"],
      ["lights off", "my-intents"],
    ]);
    expect(upstream.calls.at(-1)).toMatchObject({ model: "my-intents", rows: 2 });
  });

  it("without it uses the API's default model (not served here), and a model nobody serves is refused", async () => {
    const calls = upstream.calls.length;
    const unnamed = await classify("wake me up at seven");
    expect(unnamed.code).toBe(1);
    expect(unnamed.stderr).toMatch(/massive-scratch.*\(UNKNOWN_MODEL\)/);
    const unknown = await classify("--model", "no-such-model", "wake me up at seven");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no-such-model.*\(UNKNOWN_MODEL\)/);
    expect(upstream.calls).toHaveLength(calls);
  });
});
