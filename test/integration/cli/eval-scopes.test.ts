/**
 * `intentql eval` with a key of the eval scope alone: it refuses to import a new dataset (admin
 * scope) with a hint, and once an admin imported the rows it finds their dataset by digest and runs
 * the eval without uploading. Against the in-process edge (real D1) over HTTP, with a runner that
 * answers each text with its gold label (this is about datasets and scopes, not the model).
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDatasetJsonl } from "@intentql/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSlice } from "../../../edge/src/eval/eval-runner.ts";
import { createKey, readBundleAssets, startTestEdge, type TestEdge } from "../../support/edge-app.ts";
import { type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";
import { runCli, serveFetch } from "../../support/serve-fetch.ts";

// The first 40 rows of MASSIVE test, in a file no other test imports.
const FILE = join(mkdtempSync(join(tmpdir(), "intentql-eval-scopes-")), "sample.jsonl");
const CONTENT = `${readFileSync("data/massive-en/test.jsonl", "utf8").split("\n").slice(0, 40).join("\n")}\n`;
const GOLD = new Map(parseDatasetJsonl(CONTENT).rows.map((r) => [r.text, r.label]));
const LABELS = readBundleAssets().labels.map(({ name, scenario }) => ({ name, scenario }));

let upstream: FakeUpstream;
let t: TestEdge;
let http: Awaited<ReturnType<typeof serveFetch>>;
let evalKey: string;
/** The first field of each GraphQL operation the CLI sent, in order (seen at the HTTP adapter). */
const sent: string[] = [];

beforeAll(async () => {
  writeFileSync(FILE, CONTENT);
  upstream = await startFakeUpstream();
  t = await startTestEdge(upstream.url, {
    evalRunner: {
      start: async (runId) => {
        await runSlice(
          {
            db: t.db,
            classify: async (texts) =>
              texts.map((text) => ({ label: GOLD.get(text)!, score: 0.9, outOfScope: false })),
            labelsOf: async () => LABELS,
          },
          runId,
          { chunkSize: 100, budgetMs: 10_000 },
        );
      },
    },
  });
  evalKey = await createKey(t.db, ["eval"]);
  http = await serveFetch(async (request) => {
    const body = request.method === "POST" ? await request.clone().text() : "";
    const field = /(?:query|mutation)\s*\w*\s*(?:\([^)]*\))?\s*\{\s*(\w+)/.exec(
      JSON.parse(body || "{}").query ?? "",
    );
    if (field) sent.push(field[1]!);
    return t.edge.fetch(request);
  });
});
afterAll(async () => {
  await http?.close();
  await t?.dispose();
  await upstream?.close();
});

const endpoint = () => `${http.url}/graphql`;
const cli = (args: string[], key: string) => runCli(args, { ...process.env, INTENTQL_API_KEY: key });
const datasetCount = async () =>
  (await t.db.prepare("SELECT COUNT(*) AS n FROM datasets").first<{ n: number }>())!.n;

describe("intentql eval with an eval-scope key", { timeout: 60_000 }, () => {
  it("refuses a file no dataset holds yet, naming the admin import that fixes it", async () => {
    sent.length = 0;
    const r = await cli(["eval", "--data", FILE, "--endpoint", endpoint()], evalKey);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/FORBIDDEN/);
    expect(r.stderr).toContain(`intentql dataset import --file ${FILE} --split test`);
    expect(sent).toEqual(["datasets", "startDatasetUpload"]);
    expect(await datasetCount()).toBe(0);
  });

  it("runs on the dataset an admin imported (under another name) without uploading it", async () => {
    const imported = await cli(
      [
        "dataset",
        "import",
        "--file",
        FILE,
        "--split",
        "test",
        "--name",
        "admin-sample",
        "--endpoint",
        endpoint(),
      ],
      t.key,
    );
    expect(imported.code, imported.stderr).toBe(0);
    const dataset = JSON.parse(imported.stdout.trim().split("\n").at(-1)!);

    sent.length = 0;
    const r = await cli(["eval", "--data", FILE, "--endpoint", endpoint()], evalKey);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`dataset admin-sample (${dataset.id}) already holds these rows`);
    expect(sent).not.toContain("startDatasetUpload");
    expect(sent.slice(0, 2)).toEqual(["datasets", "startEvalRun"]);
    const result = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(result).toMatchObject({ n: 40, accuracy: 1 });
    const run = await t.gql("query ($id: ID!) { evalRun(id: $id) { dataset { id } split } }", {
      id: result.id,
    });
    expect(run.body.data.evalRun).toEqual({ dataset: { id: dataset.id }, split: "test" });
    expect(await datasetCount()).toBe(1);
  });
});
