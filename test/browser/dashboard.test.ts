/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real
 * stack: it must show the same numbers as the API, react to a click into an intent, and render the
 * confusion matrix. A screenshot lands in test/artifacts/ (git-ignored) for people to look at.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedFreshLocalD1 } from "../../edge/dev/local-d1.ts";
import { generateApiKey } from "../../edge/src/auth/api-keys.ts";
import { type EdgeWorker, startEdgeWorker } from "../support/edge-worker.ts";
import { type GpuServiceHandle, startGpuService } from "../support/gpu-service.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI)
  throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);

const PEPPER = "browser-pepper";
const key = generateApiKey();
const tmp = mkdtempSync(join(tmpdir(), "intentql-browser-"));
let gpu: GpuServiceHandle;
let edge: EdgeWorker;
let browser: Browser;

const SENTENCES: [string, string][] = [
  ["wake me up at seven tomorrow", "alarm_set"],
  ["please cancel my alarm", "alarm_remove"],
  ["what alarms do i have", "alarm_query"],
  ["what is the weather like in paris", "weather_query"],
  ["play some jazz music", "play_music"],
  ["turn the lights off in the kitchen", "iot_hue_lightoff"],
  ["tell me a joke", "general_joke"],
  ["what time is it in tokyo", "datetime_query"],
  ["add milk to my shopping list", "lists_createoradd"],
  ["send an email to john", "email_sendemail"],
];

async function gql(query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${edge.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as any;
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function finishedRun(name: string, rows: string[]): Promise<string> {
  const ds = await gql(
    `mutation($input: ImportDatasetInput!) { importDataset(input: $input) { dataset { id } } }`,
    {
      input: { name, content: rows.join("\n") },
    },
  );
  const run = await gql(`mutation($d: String!) { startEvalRun(input: { dataset: $d }) { id } }`, {
    d: ds.importDataset.dataset.id,
  });
  const id = run.startEvalRun.id;
  for (let i = 0; i < 200; i++) {
    const { evalRun } = await gql(`query($id: ID!) { evalRun(id: $id) { status } }`, { id });
    if (evalRun.status === "succeeded") return id;
    if (evalRun.status !== "running" && evalRun.status !== "queued") throw new Error(`run ${evalRun.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("run did not finish");
}

beforeAll(async () => {
  if (!haveBrowser) return;
  const persist = join(tmp, "state");
  await seedFreshLocalD1(persist, PEPPER, [{ key, scopes: ["classify", "eval", "admin"] }]);
  gpu = await startGpuService({ args: ["--variant", "fp32"] });
  edge = await startEdgeWorker({ upstreamUrl: gpu.url, pepper: PEPPER, keys: [], persistDir: persist });
  const rows = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      const [text, label] = SENTENCES[i % SENTENCES.length]!;
      return JSON.stringify({ text: `${text}${i >= SENTENCES.length ? ` ${i}` : ""}`, label_text: label });
    });
  await finishedRun("first", rows(40));
  await finishedRun("second", rows(60));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await edge?.dispose();
  await gpu?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

describe.skipIf(!haveBrowser)("dashboard", () => {
  it("shows the API's numbers, drills into an intent, and draws the confusion matrix", async () => {
    const { evalRuns } = await gql(`{ evalRuns { id metrics { accuracy f1Macro
      perIntent { intent { name } precision recall f1 support } confusion { labels counts } } } }`);
    expect(evalRuns).toHaveLength(2);
    const newest = evalRuns[0];

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const consoleErrors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    await page.goto(`${edge.url}/dashboard#key=${key}`);
    await page.waitForSelector("body[data-ready=true]");
    // The key moved from the address bar into storage.
    expect(page.url()).not.toContain(key);

    expect(await page.locator("[data-testid=run-row]").count()).toBe(2);
    await page.waitForSelector("[data-testid=metric-accuracy]");
    expect(await page.textContent("[data-testid=metric-accuracy]")).toBe(pct(newest.metrics.accuracy));
    expect(await page.textContent("[data-testid=metric-f1]")).toBe(pct(newest.metrics.f1Macro));
    const rowAccuracy = await page
      .locator("[data-testid=run-row]")
      .first()
      .locator("[data-testid=run-accuracy]")
      .textContent();
    expect(rowAccuracy).toBe(pct(newest.metrics.accuracy));

    // Click into an intent: its detail and its errors only.
    const target =
      newest.metrics.perIntent.find((p: any) => p.support > 0 && p.intent.name === "alarm_remove") ??
      newest.metrics.perIntent.find((p: any) => p.support > 0);
    await page.selectOption("[data-testid=intent-filter]", target.intent.name);
    await page.waitForSelector("[data-testid=intent-detail]:not([hidden])");
    expect(await page.textContent("[data-testid=intent-name]")).toBe(target.intent.name);
    expect(await page.textContent("[data-testid=intent-f1]")).toBe(pct(target.f1));
    expect(await page.textContent("[data-testid=intent-support]")).toBe(String(target.support));
    for (const row of await page.locator("[data-testid=error-row]").allTextContents())
      expect(row).toContain(target.intent.name);

    // The heatmap has one drawn cell per non-zero count; hovering the first gold row's diagonal tells it.
    const box = await page.locator("[data-testid=heatmap]").boundingBox();
    expect(box!.width).toBeGreaterThan(60 * 10 - 1);
    const labels: string[] = newest.metrics.confusion.labels;
    const g = labels.indexOf(target.intent.name);
    await page.mouse.move(box!.x + 4 + g * 10 + 5, box!.y + 4 + g * 10 + 5);
    expect(await page.textContent("#heatmap-tip")).toBe(
      `${target.intent.name} → ${target.intent.name}: ${newest.metrics.confusion.counts[g][g]}`,
    );

    // Comparison of the two runs.
    await page.click("#compare-go");
    await page.waitForFunction(() =>
      document.querySelector("#compare-summary")?.textContent?.includes("F1-macro"),
    );

    mkdirSync("test/artifacts", { recursive: true });
    await page.screenshot({ path: "test/artifacts/dashboard.png", fullPage: true });
    expect(consoleErrors).toEqual([]);
    await page.close();
  }, 60_000);
});
