/**
 * Datasets of any size: `intentql dataset import` (and `eval`, which uses the same importFile) sends
 * files in parts under the edge's 1 MiB body limit, resumably, and the server imports them only
 * whole and checked. Against the in-process edge (real D1) over HTTP.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { splitIntoParts } from "../../../cli/src/commands/dataset.ts";
import { startTestEdge, type TestEdge } from "../../support/edge-app.ts";
import { type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";
import { runCli, serveFetch } from "../../support/serve-fetch.ts";

const TRAIN = "data/massive-en/train.jsonl";
let upstream: FakeUpstream;
let t: TestEdge;
let http: Awaited<ReturnType<typeof serveFetch>>;
/** GraphQL operation names the CLI sent, in order (counted at the HTTP adapter). */
const sent: string[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream();
  // Eval fields need a runner; no run is started here.
  t = await startTestEdge(upstream.url, { evalRunner: { start: async () => {} } });
  http = await serveFetch(async (request) => {
    const body = request.method === "POST" ? await request.clone().text() : "";
    const name = /mutation (\w+)/.exec(body)?.[1];
    if (name) sent.push(name);
    return t.edge.fetch(request);
  });
});
afterAll(async () => {
  await http?.close();
  await t?.dispose();
  await upstream?.close();
});

const importArgs = (file: string, name: string) => [
  "dataset",
  "import",
  "--file",
  file,
  "--name",
  name,
  "--endpoint",
  `${http.url}/graphql`,
];
const cli = (args: string[]) => runCli(args, { ...process.env, INTENTQL_API_KEY: t.key });
const datasetCount = async () =>
  (await t.db.prepare("SELECT COUNT(*) AS n FROM datasets").first<{ n: number }>())!.n;

describe("splitIntoParts", () => {
  it("cuts at line ends under the byte limit and joins back exactly, long lines and multi-byte text included", () => {
    const text = `${"a".repeat(30)}\n${"é".repeat(40)}\n${"😀".repeat(50)}\nshort\n`;
    for (const max of [16, 64, 1000]) {
      const parts = splitIntoParts(text, max);
      expect(parts.join("")).toBe(text);
      for (const p of parts) expect(Buffer.byteLength(p, "utf8")).toBeLessThanOrEqual(max);
      expect(parts.every((p) => !/[\uD800-\uDBFF]$/.test(p))).toBe(true); // no pair cut in two
    }
    expect(splitIntoParts(text, 1000)).toEqual([text]);
  });
});

describe("dataset import of a file above the 1 MiB body limit", { timeout: 120_000 }, () => {
  it("imports MASSIVE train (11,514 rows, 1.1 MB) in parts; again is idempotent", async () => {
    sent.length = 0;
    const r = await cli(importArgs(TRAIN, "massive-train"));
    expect(r.code, r.stderr).toBe(0);
    const dataset = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(dataset).toMatchObject({ rowCount: 11_514 });
    expect(sent).toEqual(["Start", "Part", "Part", "Part", "Finish"]);
    const again = await cli(importArgs(TRAIN, "massive-train"));
    expect(JSON.parse(again.stdout.trim().split("\n").at(-1)!).id).toBe(dataset.id);
    expect(await datasetCount()).toBe(1);
  });

  it("resumes: an interrupted upload sends only the parts the server lacks", async () => {
    const dir = mkdtempSync(join(tmpdir(), "intentql-upload-"));
    const file = join(dir, "validation-twice.jsonl");
    // A file no earlier test imported: validation rows twice with new ids (1.2 MB, 3 parts).
    const rows = readFileSync("data/massive-en/validation.jsonl", "utf8").trim().split("\n");
    const content = `${[...rows, ...rows].map((l, i) => JSON.stringify({ ...JSON.parse(l), id: `r${i}` })).join("\n")}\n`;
    writeFileSync(file, content);
    const parts = splitIntoParts(content);
    const started = await t.gql(
      "mutation ($i: StartDatasetUploadInput!) { startDatasetUpload(input: $i) { id missing } }",
      {
        i: {
          name: "resumed",
          sha256: createHash("sha256").update(content).digest("hex"),
          parts: parts.length,
          bytes: Buffer.byteLength(content),
        },
      },
    );
    const id = started.body.data.startDatasetUpload.id;
    await t.gql(
      "mutation ($id: ID!, $c: String!) { uploadDatasetPart(id: $id, index: 0, content: $c) { id } }",
      {
        id,
        c: parts[0],
      },
    );
    sent.length = 0;
    const r = await cli(importArgs(file, "resumed"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resumed/);
    expect(sent.filter((s) => s === "Part")).toHaveLength(parts.length - 1);
    expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!).rowCount).toBe(4_066);
  });

  it("bad rows refuse the whole file with line numbers; nothing is imported, the upload is dropped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "intentql-upload-"));
    const file = join(dir, "bad.jsonl");
    const lines = readFileSync(TRAIN, "utf8").trim().split("\n");
    lines[9_000] = '{"text":"   ","label_text":"alarm_set"}';
    lines[9_001] = "not json";
    writeFileSync(file, `${lines.join("\n")}\n`);
    const before = await datasetCount();
    const r = await cli(importArgs(file, "bad"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line 9001: the text is missing or empty/);
    expect(r.stderr).toMatch(/line 9002/);
    expect(r.stderr).toMatch(/BAD_USER_INPUT/);
    expect(await datasetCount()).toBe(before);
    const left = await t.db.prepare("SELECT COUNT(*) AS n FROM dataset_uploads").first<{ n: number }>();
    expect(left!.n).toBe(0);
  });

  it("parts that do not add up to the announced sha256 are refused at finish, with a coded error", async () => {
    const { body } = await t.gql(
      "mutation ($i: StartDatasetUploadInput!) { startDatasetUpload(input: $i) { id } }",
      { i: { name: "corrupt", sha256: "0".repeat(64), parts: 1, bytes: 10 } },
    );
    const id = body.data.startDatasetUpload.id;
    await t.gql(
      'mutation ($id: ID!) { uploadDatasetPart(id: $id, index: 0, content: "0123456789") { id } }',
      {
        id,
      },
    );
    const finish = await t.gql("mutation ($id: ID!) { finishDatasetUpload(id: $id) { created } }", { id });
    expect(finish.body.errors![0]!.extensions!.code).toBe("BAD_USER_INPUT");
    expect(finish.body.errors![0]!.message).toMatch(/sha256/);
    const tooBig = await t.gql(
      "mutation ($id: ID!, $c: String!) { uploadDatasetPart(id: $id, index: 0, content: $c) { id } }",
      {
        id,
        c: "x".repeat(512 * 1024 + 1),
      },
    );
    expect(tooBig.body.errors![0]!.message).toMatch(/1 to 524288 bytes/);
  });
});
