/**
 * `predict`, `eval` and `dataset import` choose rows the same way (cli/src/split.ts): in MASSIVE's
 * official layout (rows with a "partition" field) predict and eval score the test partition unless
 * --split says otherwise, and `--split all` scores every row; files without partitions are scored
 * whole. predict runs for real; eval and dataset import talk to a stand-in API that records what
 * they ask for and filters rows with the parser the real import uses.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDatasetJsonl } from "@intentql/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BUNDLE = "models/massive-scratch";
const tmp = mkdtempSync(join(tmpdir(), "intentql-split-"));

function dataFile(name: string, rows: object[]): string {
  const path = join(tmp, name);
  writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
  return path;
}

const row = (id: number, partition: string, intent: string, utt: string) => ({
  id: String(id),
  locale: "en-US",
  partition,
  intent,
  utt,
});
/** test: 2 rows, train: 1, dev: 1. */
const OFFICIAL = dataFile("official.jsonl", [
  row(1, "test", "alarm_remove", "please cancel my alarm"),
  row(2, "train", "alarm_set", "wake me up at nine am"),
  row(3, "test", "alarm_set", "wake me up at nine am on friday"),
  row(4, "dev", "alarm_query", "what alarms do i have"),
]);
const NO_TEST = dataFile("no-test.jsonl", [
  row(1, "train", "alarm_set", "wake me up at nine am"),
  row(2, "dev", "alarm_query", "what alarms do i have"),
]);
const PLAIN = dataFile("plain.jsonl", [
  { text: "please cancel my alarm", label_text: "alarm_remove" },
  { text: "wake me up at nine am", label_text: "alarm_set" },
]);

function predict(...args: string[]) {
  const r = spawnSync(process.execPath, ["cli/bin/intentql.js", "predict", "--bundle", BUNDLE, ...args], {
    encoding: "utf8",
  });
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  return { code: r.status, stderr: r.stderr, result: last ? JSON.parse(last) : undefined };
}

describe("predict's split", () => {
  it("scores only the test partition of an official-layout file by default, every row with --split all", () => {
    const byDefault = predict("--data", OFFICIAL);
    expect(byDefault.code, byDefault.stderr).toBe(0);
    expect(byDefault.result).toMatchObject({ n: 2, accuracy: 1 });
    expect(byDefault.stderr).toMatch(
      /scoring partition "test" of .* \(2 rows; --split all for every partition\)/,
    );
    expect(predict("--data", OFFICIAL, "--split", "test").result).toEqual({
      ...byDefault.result,
      textsPerSecond: expect.any(Number),
    });
    expect(predict("--data", OFFICIAL, "--split", "all").result).toMatchObject({ n: 4 });
    for (const split of ["dev", "validation", "train"])
      expect(predict("--data", OFFICIAL, "--split", split).result, split).toMatchObject({ n: 1 });
  });

  it("scores a file without partitions whole, whatever --split says", () => {
    for (const args of [[], ["--split", "test"], ["--split", "dev"], ["--split", "all"]]) {
      const r = predict("--data", PLAIN, ...args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.result).toMatchObject({ n: 2 });
      expect(r.stderr).not.toMatch(/scoring partition/);
    }
  });

  it("says which partitions there are when the split has no rows", () => {
    const r = predict("--data", NO_TEST);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no rows in partition "test" \(--split's default\); its partitions are dev, train: choose one with --split, or --split all for every row/,
    );
    expect(predict("--data", NO_TEST, "--split", "train").result).toMatchObject({ n: 1 });
  });
});

interface Request {
  query: string;
  variables: { input: Record<string, string> } & Record<string, unknown>;
}

/** A stand-in for the API: answers the dataset lookup and upload and startEvalRun, filtering with the real parser. */
let api: { url: string; requests: Request[]; close(): Promise<void> };

beforeAll(async () => {
  const requests: Request[] = [];
  let content = "";
  let upload: { split: string | undefined; name: string; parts: string[] } = {
    split: undefined,
    name: "",
    parts: [],
  };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const request = JSON.parse(body) as Request;
      requests.push(request);
      const input = request.variables.input ?? {};
      let data: unknown;
      if (request.query.includes("datasets(sha256:")) {
        // eval looks for a dataset holding the rows first; none is stored here, so it uploads.
        data = { datasets: [] };
      } else if (request.query.includes("startDatasetUpload")) {
        // The upload protocol (start → parts → finish), as the edge speaks it.
        upload = { split: input.split, name: input.name!, parts: [] };
        const parts = Number(input.parts);
        data = {
          startDatasetUpload: { id: "up_1", parts, missing: Array.from({ length: parts }, (_, i) => i) },
        };
      } else if (request.query.includes("uploadDatasetPart")) {
        const v = request.variables as unknown as { index: number; content: string };
        upload.parts[v.index] = v.content;
        data = { uploadDatasetPart: { id: "up_1" } };
      } else if (request.query.includes("finishDatasetUpload")) {
        content = upload.parts.join("");
        const { rows } = parseDatasetJsonl(content, upload.split ? { split: upload.split } : {});
        const splits = new Map<string, number>();
        for (const r of rows) {
          const name = r.split ?? upload.split ?? "test";
          splits.set(name, (splits.get(name) ?? 0) + 1);
        }
        data = {
          finishDatasetUpload: {
            created: true,
            dataset: {
              id: "ds_1",
              name: upload.name,
              rowCount: rows.length,
              splits: [...splits].map(([name, count]) => ({ name, count })),
            },
          },
        };
      } else {
        const n = parseDatasetJsonl(content, { split: input.split! }).rows.length;
        const metrics = { n, accuracy: 1, f1Macro: 1 };
        data = {
          startEvalRun: { id: "run_1", status: "succeeded", total: n, done: n, error: null, metrics },
        };
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ data }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  api = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
});

afterAll(() => api?.close());

/** Runs the CLI asynchronously (the stand-in API answers from this process). */
function cli(
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string; sent: Request[] }> {
  const from = api.requests.length;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["cli/bin/intentql.js", ...args, "--endpoint", api.url], {
      env: { ...process.env, INTENTQL_API_KEY: "iql_test" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, sent: api.requests.slice(from) }));
  });
}

/** The split of each dataset upload and eval run the CLI started (parts and finish carry none). */
const splitsSent = (sent: Request[]) =>
  sent.filter((r) => /startDatasetUpload|startEvalRun/.test(r.query)).map((r) => r.variables.input.split);
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

describe("eval and dataset import choose the split as predict does", { timeout: 60_000 }, () => {
  it("eval imports and runs the test partition by default: predict's rows", async () => {
    const r = await cli("eval", "--data", OFFICIAL);
    expect(r.code, r.stderr).toBe(0);
    expect(splitsSent(r.sent)).toEqual(["test", "test"]); // the upload, then startEvalRun
    expect(lastJson(r.stdout)).toMatchObject({ n: predict("--data", OFFICIAL).result.n });
    expect(r.stderr).toMatch(/eval run run_1: official\/test, 2 texts/);

    const dev = await cli("eval", "--data", OFFICIAL, "--split", "validation");
    expect(dev.code, dev.stderr).toBe(0);
    expect(splitsSent(dev.sent)).toEqual(["dev", "dev"]);
    expect(lastJson(dev.stdout)).toMatchObject({ n: 1 });

    const plain = await cli("eval", "--data", PLAIN);
    expect(plain.code, plain.stderr).toBe(0);
    expect(lastJson(plain.stdout)).toMatchObject({ n: predict("--data", PLAIN).result.n });
  });

  it("eval refuses --split all (a run scores one split) before sending anything", async () => {
    const r = await cli("eval", "--data", OFFICIAL, "--split", "all");
    expect(r.code).toBe(2);
    expect(r.sent).toEqual([]);
    expect(r.stderr).toMatch(/^intentql eval: --split all is for predict and dataset import/);
  });

  it("dataset import keeps every partition by default (--split all), or the one asked", async () => {
    const all = await cli("dataset", "import", "--file", OFFICIAL);
    expect(all.code, all.stderr).toBe(0);
    expect(splitsSent(all.sent)).toEqual([undefined]);
    expect(lastJson(all.stdout)).toMatchObject({ name: "official", rowCount: 4 });
    expect(splitsSent((await cli("dataset", "import", "--file", OFFICIAL, "--split", "all")).sent)).toEqual([
      undefined,
    ]);
    const test = await cli("dataset", "import", "--file", OFFICIAL, "--split", "test", "--name", "t");
    expect(splitsSent(test.sent)).toEqual(["test"]);
    expect(lastJson(test.stdout)).toMatchObject({
      name: "t",
      rowCount: 2,
      splits: [{ name: "test", count: 2 }],
    });
  });
});
