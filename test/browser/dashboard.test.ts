/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real
 * stack: it must ask for a key when it has none (and say why a key was refused), show the same
 * numbers as the API, react to a click into an intent, render the confusion matrix with labelled
 * axes, and draw one trend line per dataset/split. Screenshots land in test/artifacts/
 * (git-ignored) for people to look at.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
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
/** A valid key without the eval scope the dashboard needs. */
const classifyOnlyKey = generateApiKey();
/** Well-formed but never stored: the API refuses it (401 UNAUTHENTICATED). */
const unknownKey = generateApiKey();
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

async function importDataset(name: string, rows: string[]): Promise<string> {
  const ds = await gql(
    `mutation($input: ImportDatasetInput!) { importDataset(input: $input) { dataset { id } } }`,
    {
      input: { name, content: rows.join("\n") },
    },
  );
  return ds.importDataset.dataset.id;
}

async function finishedRun(dataset: string, split = "test"): Promise<string> {
  const run = await gql(
    `mutation($d: String!, $s: String) { startEvalRun(input: { dataset: $d, split: $s }) { id } }`,
    {
      d: dataset,
      s: split,
    },
  );
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
  await seedFreshLocalD1(persist, PEPPER, [
    { key, scopes: ["classify", "eval", "admin"] },
    { key: classifyOnlyKey, scopes: ["classify"] },
  ]);
  gpu = await startGpuService({ args: ["--variant", "fp32"] });
  edge = await startEdgeWorker({ upstreamUrl: gpu.url, pepper: PEPPER, keys: [], persistDir: persist });
  const rows = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      const [text, label] = SENTENCES[i % SENTENCES.length]!;
      return JSON.stringify({ text: `${text}${i >= SENTENCES.length ? ` ${i}` : ""}`, label_text: label });
    });
  // MASSIVE's official layout: one file, three partitions. Some gold labels are deliberately wrong
  // (the model says play_music, general_joke), so these runs score below 100% and have confusions.
  const official = (partition: string, n: number, wrong: Record<number, string>) =>
    Array.from({ length: n }, (_, i) => {
      const [text, label] = SENTENCES[i % SENTENCES.length]!;
      return JSON.stringify({ utt: `${text} ${i}`, intent: wrong[i % SENTENCES.length] ?? label, partition });
    });
  const first = await importDataset("first", rows(40));
  const mini = await importDataset("mini", [
    ...official("test", 10, {}),
    ...official("dev", 20, { 4: "music_query" }),
    ...official("train", 30, { 4: "music_query", 6: "general_quirky" }),
  ]);
  // Oldest to newest: first/test, mini/dev, mini/train, first/test.
  await finishedRun(first);
  await finishedRun(mini, "dev");
  await finishedRun(mini, "train");
  await finishedRun(first);
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

async function openDashboard(
  hash = "",
): Promise<{ page: Page; consoleErrors: string[]; graphqlCalls: () => number }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const consoleErrors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  let calls = 0;
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/graphql") calls++;
  });
  await page.goto(`${edge.url}/dashboard${hash}`);
  await page.waitForSelector("body[data-ready=true]");
  return { page, consoleErrors, graphqlCalls: () => calls };
}

const storedKeys = (page: Page) =>
  page.evaluate(() => ({
    session: sessionStorage.getItem("intentql.apiKey"),
    local: localStorage.length,
  }));

async function submitKey(page: Page, value: string): Promise<void> {
  await page.fill("#key", value);
  await page.click("#keyform button[type=submit]");
}

describe.skipIf(!haveBrowser)("dashboard", () => {
  it("asks for a key when opened without one, keeps it for this tab only, and forgets it", async () => {
    const { page, consoleErrors, graphqlCalls } = await openDashboard();
    // No key: the form, not a refusal, and no call to the API.
    expect(await page.isVisible("[data-testid=key-form]")).toBe(true);
    expect(await page.getAttribute("#key", "type")).toBe("password");
    expect(await page.isVisible("[data-testid=key-message]")).toBe(false);
    expect(await page.isVisible("#error")).toBe(false);
    expect((await page.textContent("main"))!.toLowerCase()).not.toContain("refused");
    expect(await page.locator("[data-testid=run-row]").count()).toBe(0);
    expect(graphqlCalls()).toBe(0);
    mkdirSync("test/artifacts", { recursive: true });
    await page.screenshot({ path: "test/artifacts/dashboard-key-form.png" });

    // Entering the key loads the runs; the key lives in sessionStorage, never localStorage or the URL.
    await submitKey(page, key);
    await page.waitForSelector("[data-testid=run-row]");
    expect(await page.locator("[data-testid=run-row]").count()).toBe(4);
    expect(await page.isVisible("[data-testid=key-form]")).toBe(false);
    expect(await page.inputValue("#key")).toBe("");
    expect(await storedKeys(page)).toEqual({ session: key, local: 0 });
    expect(page.url()).not.toContain(key);

    // A reload in the same tab keeps it.
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    await page.waitForSelector("[data-testid=run-row]");
    expect(await page.isVisible("[data-testid=key-form]")).toBe(false);

    // Forget key: the form again, the data gone, nothing stored.
    await page.click("[data-testid=forget-key]");
    await page.waitForSelector("[data-testid=key-form]");
    expect(await page.isVisible("[data-testid=run-row]")).toBe(false);
    expect(await page.isVisible("[data-testid=forget-key]")).toBe(false);
    expect(await storedKeys(page)).toEqual({ session: null, local: 0 });

    // A #key= pasted into the open page's address bar is taken too (and leaves the URL).
    await page.evaluate((k) => {
      location.hash = `key=${k}`;
    }, key);
    await page.waitForSelector("[data-testid=run-row]");
    expect(page.url()).not.toContain(key);
    expect(await storedKeys(page)).toEqual({ session: key, local: 0 });
    expect(consoleErrors).toEqual([]);
    await page.close();
  }, 60_000);

  it("says a refused key was refused, names the scope a key lacks, and asks again", async () => {
    // A refused key from the fragment: the message and the form; the key leaves the URL and storage.
    const { page } = await openDashboard(`#key=${unknownKey}`);
    expect(page.url()).not.toContain(unknownKey);
    await page.waitForSelector("[data-testid=key-form]");
    expect(await page.textContent("[data-testid=key-message]")).toContain("refused");
    expect(await page.isVisible("[data-testid=run-row]")).toBe(false);
    expect(await storedKeys(page)).toEqual({ session: null, local: 0 });
    mkdirSync("test/artifacts", { recursive: true });
    await page.screenshot({
      path: "test/artifacts/dashboard-key-refused.png",
      clip: { x: 0, y: 0, width: 1400, height: 260 },
    });

    // A valid key without the eval scope: the scope it needs.
    await submitKey(page, classifyOnlyKey);
    await page.waitForFunction(() =>
      document.querySelector("[data-testid=key-message]")?.textContent?.includes("eval scope"),
    );
    expect(await page.textContent("[data-testid=key-message]")).not.toContain("refused");
    expect(await page.isVisible("[data-testid=key-form]")).toBe(true);
    expect(await page.isVisible("[data-testid=run-row]")).toBe(false);

    // A wrong key typed into the form: refused again.
    await submitKey(page, unknownKey);
    await page.waitForFunction(() =>
      document.querySelector("[data-testid=key-message]")?.textContent?.includes("refused"),
    );
    expect(await page.isVisible("[data-testid=key-form]")).toBe(true);

    // Then the right one.
    await submitKey(page, key);
    await page.waitForSelector("[data-testid=run-row]");
    expect(await page.isVisible("[data-testid=key-message]")).toBe(false);
    expect(await page.isVisible("[data-testid=key-form]")).toBe(false);
    await page.close();
  }, 60_000);

  it("shows the API's numbers, drills into an intent, and draws the confusion matrix and the trends", async () => {
    const { evalRuns } = await gql(`{ evalRuns { id split dataset { name } metrics { accuracy f1Macro
      perIntent { intent { name scenario } precision recall f1 support } confusion { labels counts } } } }`);
    expect(evalRuns).toHaveLength(4);
    const newest = evalRuns[0];

    const { page, consoleErrors } = await openDashboard(`#key=${key}`);
    // The key moved from the address bar into storage.
    expect(page.url()).not.toContain(key);

    expect(await page.locator("[data-testid=run-row]").count()).toBe(4);
    // The served model's own scores say what they were measured on (validation predates the refit).
    await page.waitForSelector("[data-testid=model-row]");
    const { models } = await gql("{ models { test { accuracy } validation { note } } }");
    const rows = await page.locator("[data-testid=model-row]").allTextContents();
    expect(rows[0]).toContain(pct(models[0].test.accuracy));
    expect(rows[1]).toContain(models[0].validation.note);
    expect(rows[1]).toMatch(/refit on train\+validation/);
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

    // The heatmap's axes are labelled, and each scenario block is named once on each axis, in label order.
    expect(await page.textContent("[data-testid=heatmap-y-title]")).toBe("gold intent");
    expect(await page.textContent("[data-testid=heatmap-x-title]")).toBe("predicted intent");
    const labels: string[] = newest.metrics.confusion.labels;
    const scenarioOf = new Map<string, string>(
      newest.metrics.perIntent.map((p: any) => [p.intent.name, p.intent.scenario]),
    );
    const scenarios = labels.map((l) => scenarioOf.get(l)!).filter((s, i, all) => s !== all[i - 1]);
    expect(new Set(scenarios).size).toBe(scenarios.length);
    expect(scenarios).toContain("alarm");
    expect(scenarios).toContain("weather");
    for (const axis of ["x", "y"])
      expect(await page.locator(`[data-testid=heatmap-${axis}-ticks] .tick`).allTextContents()).toEqual(
        scenarios,
      );

    // The heatmap has one drawn cell per non-zero count; hovering the first gold row's diagonal tells it,
    // and the scenario ticks beside that row and column are the target's scenario.
    await page.locator("[data-testid=heatmap]").scrollIntoViewIfNeeded();
    const box = await page.locator("[data-testid=heatmap]").boundingBox();
    expect(box!.width).toBeGreaterThan(60 * 10 - 1);
    const g = labels.indexOf(target.intent.name);
    const cx = box!.x + 4 + g * 10 + 5;
    const cy = box!.y + 4 + g * 10 + 5;
    const scenario = scenarioOf.get(target.intent.name)!;
    const rowTick = await page
      .locator(`[data-testid=heatmap-y-ticks] .tick[data-scenario="${scenario}"]`)
      .boundingBox();
    const colTick = await page
      .locator(`[data-testid=heatmap-x-ticks] .tick[data-scenario="${scenario}"]`)
      .boundingBox();
    expect(cy).toBeGreaterThan(rowTick!.y);
    expect(cy).toBeLessThan(rowTick!.y + rowTick!.height);
    expect(rowTick!.x + rowTick!.width).toBeLessThanOrEqual(box!.x + 1);
    expect(cx).toBeGreaterThan(colTick!.x);
    expect(cx).toBeLessThan(colTick!.x + colTick!.width);
    expect(colTick!.y + colTick!.height).toBeLessThanOrEqual(box!.y + 1);
    await page.mouse.move(cx, cy);
    expect(await page.textContent("#heatmap-tip")).toBe(
      `${target.intent.name} → ${target.intent.name}: ${newest.metrics.confusion.counts[g][g]}`,
    );
    expect(await page.locator("[data-testid=heatmap-y-ticks] .tick.active").allTextContents()).toEqual([
      scenario,
    ]);
    expect(await page.locator("[data-testid=heatmap-x-ticks] .tick.active").allTextContents()).toEqual([
      scenario,
    ]);

    // Over runs: one series per dataset/split (the legend is built from the charts' datasets), with
    // as many points as that dataset/split has finished runs.
    const expected: Record<string, string> = {};
    for (const r of evalRuns) {
      const name = `${r.dataset.name}/${r.split}`;
      expected[name] = String(Number(expected[name] ?? 0) + 1);
    }
    expect(expected).toEqual({ "first/test": "2", "mini/dev": "1", "mini/train": "1" });
    const legend = await page
      .locator("[data-testid=trend-legend] li")
      .evaluateAll((items) =>
        Object.fromEntries(
          items.map((li) => [(li as HTMLElement).dataset.series, (li as HTMLElement).dataset.points]),
        ),
      );
    expect(legend).toEqual(expected);
    // Named in order of their first run.
    expect(await page.locator("[data-testid=trend-legend] li").allTextContents()).toEqual([
      "first/test",
      "mini/dev",
      "mini/train",
    ]);
    // A click on a name hides that series in both charts, a second click shows it again.
    const toggle = page.locator('[data-testid=trend-legend] li[data-series="mini/train"] button');
    await toggle.click();
    expect(await toggle.getAttribute("aria-pressed")).toBe("false");
    await toggle.click();
    expect(await toggle.getAttribute("aria-pressed")).toBe("true");

    // Comparison of two runs.
    await page.click("#compare-go");
    await page.waitForFunction(() =>
      document.querySelector("#compare-summary")?.textContent?.includes("F1-macro"),
    );

    // A run with confusions, for the screenshot: hover an off-diagonal cell of the mini/train run.
    await page.locator("[data-testid=run-row]", { hasText: "train" }).click();
    await page.waitForFunction(() =>
      document.querySelector("#detail-title")?.textContent?.includes("/train"),
    );
    mkdirSync("test/artifacts", { recursive: true });
    await page.screenshot({ path: "test/artifacts/dashboard.png", fullPage: true });
    // The heatmap with a confusion hovered, up close.
    const panel = page.locator("[data-testid=heatmap-figure]").locator("..");
    await panel.scrollIntoViewIfNeeded();
    await page.locator("[data-testid=heatmap]").scrollIntoViewIfNeeded();
    const matrix = (await page.locator("[data-testid=heatmap]").boundingBox())!;
    const gold = labels.indexOf("music_query");
    const predicted = labels.indexOf("play_music");
    await page.mouse.move(matrix.x + 4 + predicted * 10 + 5, matrix.y + 4 + gold * 10 + 5);
    expect(await page.textContent("#heatmap-tip")).toBe("music_query → play_music: 3");
    await panel.screenshot({ path: "test/artifacts/dashboard-heatmap.png" });
    expect(consoleErrors).toEqual([]);
    await page.close();
  }, 60_000);
});
