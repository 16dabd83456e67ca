/**
 * Eval runs on the real stack: the Worker under workerd (local D1, the EvalRunner Durable Object)
 * in front of the real gpu-service on CPU. The CLI drives it like a user would. Checks: the run's
 * predictions are exactly `intentql predict`'s (same confusion matrix), and a run whose Worker and
 * gpu-service are both killed mid-way finishes after a restart with exactly n predictions.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateApiKey } from "@intentql/edge";
import { seedFreshLocalD1 } from "@intentql/edge/local-d1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EdgeWorker, startEdgeWorker } from "../../support/edge-worker.ts";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";

const TEST_SPLIT = "data/massive-en/test.jsonl";
const PEPPER = "eval-pepper";
const TOKEN = "eval-upstream-token-0123456789abcdef";
const key = generateApiKey();
const readOnly = generateApiKey();
const tmp = mkdtempSync(join(tmpdir(), "intentql-eval-"));
const persist = join(tmp, "state");

let gpu: GpuServiceHandle;
let edge: EdgeWorker;

function startEdge(vars: Record<string, string> = {}) {
  return startEdgeWorker({
    upstreamUrl: gpu.url,
    upstreamToken: TOKEN,
    pepper: PEPPER,
    keys: [],
    persistDir: persist,
    vars: { EVAL_STALE_AFTER_MS: "2000", ...vars },
  });
}
const startGpu = () => startGpuService({ authToken: TOKEN, args: ["--variant", "fp32"] });

beforeAll(async () => {
  await seedFreshLocalD1(persist, PEPPER, [
    { key, scopes: ["classify", "eval", "admin"] },
    { key: readOnly, scopes: ["classify"] },
  ]);
  gpu = await startGpu();
  edge = await startEdge();
}, 180_000);

afterAll(async () => {
  await edge?.dispose();
  await gpu?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

async function gql(query: string, variables: Record<string, unknown> = {}, apiKey = key) {
  const res = await fetch(`${edge.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

/** Runs the CLI asynchronously (the Worker runs in this process's event loop through wrangler). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["cli/bin/intentql.js", ...args], {
      env: { ...process.env, INTENTQL_API_KEY: key },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const lastJson = (out: string) => JSON.parse(out.trim().split("\n").at(-1)!);

describe("eval runs through the API", () => {
  it("intentql eval on MASSIVE test gives exactly intentql predict's predictions", async () => {
    const evalRun = await cli(["eval", "--data", TEST_SPLIT, "--endpoint", `${edge.url}/graphql`]);
    expect(evalRun.code, evalRun.stderr).toBe(0);
    const result = lastJson(evalRun.stdout);
    expect(result).toMatchObject({ n: 2974 });
    expect(result.id).toMatch(/^run_/);

    const report = join(tmp, "predict.json");
    const offline = spawnSync(
      process.execPath,
      [
        "cli/bin/intentql.js",
        "predict",
        "--bundle",
        "models/massive-scratch",
        "--data",
        TEST_SPLIT,
        "--report",
        report,
      ],
      { encoding: "utf8" },
    );
    expect(offline.status, offline.stderr).toBe(0);
    const predicted = lastJson(offline.stdout);
    expect(result.accuracy).toBe(predicted.accuracy);
    expect(result.f1Macro).toBe(predicted.f1Macro);

    // Same confusion matrix cell for cell: the same prediction for every gold label.
    const run = await gql(
      `query($id: ID!) { evalRun(id: $id) { status done total metrics { confusion { counts } perIntent { intent { name } f1 } } } }`,
      { id: result.id },
    );
    expect(run.errors).toBeUndefined();
    expect(run.data.evalRun).toMatchObject({ status: "succeeded", done: 2974, total: 2974 });
    expect(run.data.evalRun.metrics.confusion.counts).toEqual(
      JSON.parse(readFileSync(report, "utf8")).confusion,
    );

    // The intent catalog now reports this run's per-intent metrics.
    const intent = await gql(`{ intent(name: "alarm_remove") { latestMetrics { evalRunId f1 support } } }`);
    expect(intent.data.intent.latestMetrics).toMatchObject({ evalRunId: result.id });
    const f1 = run.data.evalRun.metrics.perIntent.find((p: any) => p.intent.name === "alarm_remove").f1;
    expect(intent.data.intent.latestMetrics.f1).toBeCloseTo(f1, 12);

    // Importing the same file again is a no-op: same dataset.
    const again = await cli([
      "dataset",
      "import",
      "--file",
      TEST_SPLIT,
      "--name",
      "other-name",
      "--endpoint",
      `${edge.url}/graphql`,
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/already imported/);
  }, 240_000);

  it("finishes with exactly n predictions after the Worker and gpu-service are killed mid-run", async () => {
    const rows = Array.from({ length: 600 }, (_, i) =>
      JSON.stringify({
        text: `${["wake me up at", "cancel the alarm at", "what is the weather at"][i % 3]} ${i}`,
        label_text: ["alarm_set", "alarm_remove", "weather_query"][i % 3],
      }),
    );
    // Small chunks so that the run is still going when the stack dies.
    await edge.dispose();
    edge = await startEdge({ EVAL_CHUNK_TEXTS: "8" });
    const imported = await gql(
      `mutation($input: ImportDatasetInput!) { importDataset(input: $input) { dataset { id } } }`,
      { input: { name: "resume", content: rows.join("\n") } },
    );
    expect(imported.errors).toBeUndefined();
    const started = await gql(
      `mutation($d: String!) { startEvalRun(input: { dataset: $d }) { id status total } }`,
      {
        d: imported.data.importDataset.dataset.id,
      },
    );
    const id = started.data.startEvalRun.id;
    expect(started.data.startEvalRun.total).toBe(600);

    let done = 0;
    for (let i = 0; i < 300 && done < 80; i++) {
      await new Promise((r) => setTimeout(r, 50));
      done = (await gql(`query($id: ID!) { evalRun(id: $id) { done } }`, { id })).data.evalRun.done;
    }
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(600);
    await Promise.all([edge.dispose(), gpu.stop()]);

    gpu = await startGpu();
    edge = await startEdge();
    let run: any;
    for (let i = 0; i < 240; i++) {
      run = (await gql(`query($id: ID!) { evalRun(id: $id) { status done total metrics { n } } }`, { id }))
        .data.evalRun;
      if (run.status !== "running" && run.status !== "queued") break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(run).toMatchObject({ status: "succeeded", done: 600, total: 600, metrics: { n: 600 } });
    const page = await gql(
      `query($id: ID!) { evalRun(id: $id) { misclassified(first: 500) { edges { node { index } } pageInfo { hasNextPage } } } }`,
      { id },
    );
    const indices = page.data.evalRun.misclassified.edges.map((e: any) => e.node.index);
    expect(new Set(indices).size).toBe(indices.length);
  }, 180_000);

  it("streams a run's progress over SSE until its final state", async () => {
    const content = Array.from({ length: 120 }, (_, i) =>
      JSON.stringify({ text: `turn off the lights ${i}`, label_text: "iot_hue_lightoff" }),
    ).join("\n");
    const ds = await gql(
      `mutation($input: ImportDatasetInput!) { importDataset(input: $input) { dataset { id } } }`,
      {
        input: { name: "sse", content },
      },
    );
    const started = await gql(`mutation($d: String!) { startEvalRun(input: { dataset: $d }) { id } }`, {
      d: ds.data.importDataset.dataset.id,
    });
    const id = started.data.startEvalRun.id;
    const res = await fetch(`${edge.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        authorization: `Bearer ${key}`,
      },
      body: JSON.stringify({
        query: `subscription($id: ID!) { evalRunProgress(id: $id) { status done total } }`,
        variables: { id },
      }),
      signal: AbortSignal.timeout(60_000),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    const states: { status: string; done: number; total: number }[] = [];
    while (!states.some((s) => s.status === "succeeded")) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (const m of buffer.matchAll(/^data: (.+)$/gm)) {
        const payload = JSON.parse(m[1]!);
        if (payload.data?.evalRunProgress) states.push(payload.data.evalRunProgress);
      }
      buffer = buffer.slice(buffer.lastIndexOf("\n") + 1);
    }
    await reader.cancel();
    expect(states.at(-1)).toEqual({ status: "succeeded", done: 120, total: 120 });
    // progress never goes backwards
    for (let i = 1; i < states.length; i++)
      expect(states[i]!.done).toBeGreaterThanOrEqual(states[i - 1]!.done);
  }, 90_000);

  it("cancels a run, refuses bad imports with line numbers, and enforces scopes", async () => {
    const bad = await gql(
      `mutation($input: ImportDatasetInput!) { importDataset(input: $input) { created } }`,
      {
        input: {
          name: "bad",
          content: `${JSON.stringify({ text: "hi", label_text: "not_an_intent" })}\n{oops`,
        },
      },
    );
    expect(bad.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(bad.errors?.[0]?.message).toMatch(/1 bad row\(s\), nothing imported: line 2: not valid JSON/);

    // Labels are checked against the run's model when the run starts: nothing is queued.
    const foreign = await gql(
      `mutation($input: ImportDatasetInput!) { importDataset(input: $input) { dataset { id } } }`,
      { input: { name: "foreign", content: JSON.stringify({ text: "hi", label_text: "not_an_intent" }) } },
    );
    const refused = await gql(`mutation($input: StartEvalRunInput!) { startEvalRun(input: $input) { id } }`, {
      input: { dataset: foreign.data.importDataset.dataset.id },
    });
    expect(refused.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(refused.errors?.[0]?.message).toMatch(
      /dataset foreign\/test has 1 label\(s\) that model massive-scratch does not know: not_an_intent/,
    );

    const forbidden = await gql(`{ evalRuns { id } }`, {}, readOnly);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

    const content = Array.from({ length: 400 }, (_, i) =>
      JSON.stringify({ text: `set an alarm ${i}`, label_text: "alarm_set" }),
    ).join("\n");
    const ds = await gql(
      `mutation($input: ImportDatasetInput!) { importDataset(input: $input) { dataset { id } } }`,
      {
        input: { name: "cancel-me", content },
      },
    );
    const noSplit = await gql(
      `mutation($d: String!) { startEvalRun(input: { dataset: $d, split: "train" }) { id } }`,
      {
        d: ds.data.importDataset.dataset.id,
      },
    );
    expect(noSplit.errors?.[0]?.message).toMatch(/has no split "train" \(it has test\)/);
    const started = await gql(`mutation($d: String!) { startEvalRun(input: { dataset: $d }) { id } }`, {
      d: ds.data.importDataset.dataset.id,
    });
    const id = started.data.startEvalRun.id;
    const cancelled = await gql(`mutation($id: ID!) { cancelEvalRun(id: $id) { status } }`, { id });
    expect(["cancelled", "succeeded"]).toContain(cancelled.data.cancelEvalRun.status);
    const later = await gql(`query($id: ID!) { evalRun(id: $id) { status done } }`, { id });
    expect(later.data.evalRun.status).toBe(cancelled.data.cancelEvalRun.status);
    if (later.data.evalRun.status === "cancelled") expect(later.data.evalRun.done).toBeLessThan(400);
  }, 60_000);

  it("paces a run by its key's texts quota, and caps the runs a key has going", async () => {
    // A small quota: 40 texts/s after a burst of 80. Unpaced, 400 texts take ~2 s on this stack.
    await edge.dispose();
    edge = await startEdge({ TEXT_QUOTA_PER_SECOND: "40", TEXT_QUOTA_BURST: "80", EVAL_CHUNK_TEXTS: "16" });
    const content = Array.from({ length: 400 }, (_, i) =>
      JSON.stringify({ text: `what is the weather at ${i}`, label_text: "weather_query" }),
    ).join("\n");
    const ds = await gql(
      `mutation($input: ImportDatasetInput!) { importDataset(input: $input) { dataset { id } } }`,
      { input: { name: "paced", content } },
    );
    const d = ds.data.importDataset.dataset.id;
    const t0 = Date.now();
    const started = await gql(`mutation($d: String!) { startEvalRun(input: { dataset: $d }) { id } }`, { d });
    const id = started.data.startEvalRun.id;
    let run: any;
    for (let i = 0; i < 240; i++) {
      run = (await gql(`query($id: ID!) { evalRun(id: $id) { status done } }`, { id })).data.evalRun;
      if (run.status !== "running" && run.status !== "queued") break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const seconds = (Date.now() - t0) / 1000;
    expect(run).toMatchObject({ status: "succeeded", done: 400 });
    // 400 texts, 80 of them from the burst and at most one 64-text lease beyond it: ≥ 6.4 s at 40/s
    expect(seconds).toBeGreaterThan(6.4);

    // Four runs at a time per key: a fifth in the same request is refused with RATE_LIMITED.
    const five = await gql(
      `mutation($d: String!) { ${[0, 1, 2, 3, 4].map((i) => `r${i}: startEvalRun(input: { dataset: $d }) { id }`).join(" ")} }`,
      { d },
    );
    expect(five.errors?.map((e) => e.extensions?.code)).toEqual(["RATE_LIMITED"]);
    const going = await gql(`{ evalRuns(first: 10) { id status } }`);
    const active = going.data.evalRuns.filter((r: any) => r.status === "queued" || r.status === "running");
    expect(active).toHaveLength(4);
    for (const r of active)
      await gql(`mutation($id: ID!) { cancelEvalRun(id: $id) { status } }`, { id: r.id });
    await edge.dispose();
    edge = await startEdge();
  }, 120_000);
});
