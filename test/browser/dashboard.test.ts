/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real
 * stack: it must ask for a key when it has none (and say why a key was refused), show the same
 * numbers as the API, react to a click into an intent, render the confusion matrix with labelled
 * axes, and draw one trend line per dataset/split. All of it under the page's hash-based CSP: any
 * violation the page reports (securitypolicyviolation, or Chromium's console line) fails the test
 * it happened in, and values from the API that look like markup must stay text. Screenshots land in
 * test/artifacts/ (git-ignored) for people to look at.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateApiKey } from "@intentql/edge";
import { seedFreshLocalD1 } from "@intentql/edge/local-d1";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { haveBrowser, launchChromium } from "../support/chromium.ts";
import { trainExampleModel } from "../support/custom-model.ts";
import { type EdgeWorker, startEdgeWorker } from "../support/edge-worker.ts";
import { type GpuServiceHandle, startGpuService } from "../support/gpu-service.ts";

const PEPPER = "browser-pepper";
const key = generateApiKey();
/** A valid key without the eval scope the dashboard needs. */
const classifyOnlyKey = generateApiKey();
/** Well-formed but never stored: the API refuses it (401 UNAUTHENTICATED). */
const unknownKey = generateApiKey();
const tmp = mkdtempSync(join(tmpdir(), "intentql-browser-"));
const CUSTOM = join(tmp, "my-intents");
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

async function finishedRun(dataset: string, split = "test", model?: string): Promise<string> {
  const run = await gql(
    `mutation($d: String!, $s: String, $m: String) { startEvalRun(input: { dataset: $d, split: $s, model: $m }) { id } }`,
    {
      d: dataset,
      s: split,
      m: model ?? null,
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
  // A second model, for the model picker: trained here in seconds (intentql train).
  trainExampleModel(CUSTOM, "--epochs", "5");
  gpu = await startGpuService({ args: ["--variant", "fp32"], bundles: ["models/massive-scratch", CUSTOM] });
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
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await edge?.dispose();
  await gpu?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** CSP violations reported by the pages of the current test; afterEach fails the test on any. */
const violations: string[] = [];

afterEach(() => {
  const seen = violations.splice(0);
  expect(seen, "CSP violations").toEqual([]);
});

/** Source expressions of a CSP directive. */
function cspDirective(csp: string, name: string): string[] | undefined {
  for (const part of csp.split(";")) {
    const [key, ...values] = part.trim().split(/\s+/);
    if (key === name) return values;
  }
  return undefined;
}

/**
 * A new page on the dashboard. Its CSP violations go to `violations` (what afterEach checks), or,
 * for a page that provokes some on purpose, to `probe` instead. `before` runs before it loads.
 */
async function openDashboard(
  hash = "",
  opts: { before?: (page: Page) => Promise<void>; probe?: string[] } = {},
): Promise<{ page: Page; consoleErrors: string[]; graphqlCalls: () => number }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const reported = opts.probe ?? violations;
  const consoleErrors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
    if (/content security policy|trusted type/i.test(m.text())) reported.push(`console: ${m.text()}`);
  });
  // Reported by the page itself, from before its first script runs (init scripts and bindings go
  // through DevTools, which the CSP does not govern).
  await page.exposeBinding("__cspViolation", (_source, v: string) => {
    reported.push(v);
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      (window as any).__cspViolation(
        `${e.effectiveDirective} blocked ${e.blockedURI || "inline"}: ${e.sample}`,
      );
    });
  });
  let calls = 0;
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/graphql") calls++;
  });
  await opts.before?.(page);
  const response = await page.goto(`${edge.url}/dashboard${hash}`);
  expect(response!.headers()["cross-origin-opener-policy"]).toBe("same-origin");
  const csp = response!.headers()["content-security-policy"] ?? "";
  expect(csp).toMatch(/script-src 'sha256-/);
  expect(csp).not.toContain("unsafe-inline");
  expect(csp).not.toContain("unsafe-eval");
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

  it("asks before a link swaps the key in use, and keeps the key when told no", async () => {
    const { page } = await openDashboard(`#key=${key}`);
    await page.waitForSelector("[data-testid=run-row]");
    const asked: string[] = [];
    let yes = false;
    page.on("dialog", (d) => {
      asked.push(d.message());
      void (yes ? d.accept() : d.dismiss());
    });
    // A link, or a page holding a handle to this tab, points it at another key: "no" keeps ours.
    await page.evaluate((k) => {
      location.hash = `key=${k}`;
    }, classifyOnlyKey);
    await page.waitForFunction(() => !location.hash.includes("key="));
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain(classifyOnlyKey.slice(0, 17));
    expect(asked[0]).not.toContain(classifyOnlyKey.slice(17)); // ids only: no secret in the dialog
    expect(asked[0]).not.toContain(key.slice(17));
    expect(await storedKeys(page)).toEqual({ session: key, local: 0 });
    expect(await page.locator("[data-testid=run-row]").count()).toBe(4);

    // The same when the link loads the page afresh in this tab (the stored key survives a load).
    await page.goto(`${edge.url}/dashboard?again=1#key=${classifyOnlyKey}`);
    await page.waitForSelector("body[data-ready=true]");
    await page.waitForSelector("[data-testid=run-row]");
    expect(asked).toHaveLength(2);
    expect(page.url()).not.toContain(classifyOnlyKey);
    expect(await storedKeys(page)).toEqual({ session: key, local: 0 });

    // "Yes" switches: the page now asks with that key, which lacks the eval scope, and says so (and,
    // as with a key typed into the form, does not keep it).
    yes = true;
    await page.evaluate((k) => {
      location.hash = `key=${k}`;
    }, classifyOnlyKey);
    await page.waitForFunction(() =>
      document.querySelector("[data-testid=key-message]")?.textContent?.includes("eval scope"),
    );
    expect(asked).toHaveLength(3);
    expect(await page.isVisible("[data-testid=run-row]")).toBe(false);
    expect(await storedKeys(page)).toEqual({ session: null, local: 0 });
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

    // Not a key at all (a character fetch cannot send in a header, a line break): refused the same
    // way, before any request, and the form stays usable.
    for (const notAKey of ["%E2%82%AC", "iql_%0Aabc"]) {
      const bad = await openDashboard(`#key=${notAKey}`);
      await bad.page.waitForSelector("[data-testid=key-form]");
      expect(await bad.page.textContent("[data-testid=key-message]")).toContain("not an IntentQL API key");
      expect(await storedKeys(bad.page)).toEqual({ session: null, local: 0 });
      await bad.page.close();
    }

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
    const { evalRuns } =
      await gql(`{ evalRuns(first: 5) { id split dataset { name } metrics { accuracy f1Macro
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
  it("is served under a CSP that allows exactly its own inline script and style, which it enforces", async () => {
    const res = await fetch(`${edge.url}/dashboard`);
    const csp = res.headers.get("content-security-policy")!;
    const html = await res.text();
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
    const hashes = (pattern: RegExp) =>
      [...html.matchAll(pattern)].map(
        ([, text]) => `'sha256-${createHash("sha256").update(text!, "utf8").digest("base64")}'`,
      );
    const scripts = hashes(/<script\b[^>]*>([\s\S]*?)<\/script>/g);
    const styles = hashes(/<style\b[^>]*>([\s\S]*?)<\/style>/g);
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    expect(cspDirective(csp, "script-src")).toEqual(scripts);
    expect(cspDirective(csp, "style-src")).toEqual(styles);
    expect(cspDirective(csp, "default-src")).toEqual(["'none'"]);
    expect(cspDirective(csp, "connect-src")).toEqual(["'self'"]);
    for (const name of ["base-uri", "form-action", "frame-ancestors"])
      expect(cspDirective(csp, name), name).toEqual(["'none'"]);
    expect(cspDirective(csp, "require-trusted-types-for")).toEqual(["'script'"]);
    // No style="…" or on…="…" attributes in the page.
    expect(html.replace(/<(script|style)\b[\s\S]*?<\/\1>/g, "")).not.toMatch(/<[^>]*\s(style|on[a-z]+)\s*=/i);

    // The browser enforces it: an HTML string sink throws (Trusted Types), eval is refused, a style
    // attribute is not applied, and each is reported as a violation, which is what fails the other
    // tests. The dashboard itself (with its Chart.js charts) loads with none.
    const probe: string[] = [];
    const { page } = await openDashboard(`#key=${key}`, { probe });
    await page.waitForSelector("[data-testid=metric-accuracy]");
    expect(probe).toEqual([]);
    // From a task of the page's own: code that DevTools evaluates may eval regardless of the CSP.
    const probes = await page.evaluate(
      () =>
        new Promise<Record<string, string>>((done) =>
          setTimeout(() => {
            const attempt = (f: () => unknown) => {
              try {
                f();
                return "allowed";
              } catch (e) {
                return (e as Error).name;
              }
            };
            const div = document.createElement("div");
            document.body.append(div);
            div.setAttribute("style", "color: rgb(255, 0, 0)");
            done({
              html: attempt(() => div.insertAdjacentHTML("beforeend", "<b>x</b>")),
              eval: attempt(() => new Function("return 1")()),
              style: getComputedStyle(div).color,
            });
          }),
        ),
    );
    expect(probes.html).toBe("TypeError");
    expect(probes.eval).toBe("EvalError");
    expect(probes.style).not.toBe("rgb(255, 0, 0)");
    // …each reported (the string to code is refused by Trusted Types first): the page's own
    // reports of violations are seen, as the other tests rely on.
    const reported = () => probe.filter((v) => !v.startsWith("console:"));
    for (const expected of [
      /^style-src-attr /,
      /^require-trusted-types-for .*insertAdjacentHTML/,
      /^require-trusted-types-for .*Function/,
    ])
      await expect
        .poll(() => reported().some((v) => expected.test(v)), { message: String(expected) })
        .toBe(true);
    await page.close();
  }, 60_000);

  it("renders markup in names, labels and errors as text: it creates no element", async () => {
    const HOSTILE = "<img src=x onerror=alert(1)>";
    const name = `ds ${HOSTILE}`;
    const label = `label ${HOSTILE}`;
    // The real stack: a dataset named like markup, its texts too; half its gold labels are wrong
    // (alarm_set for every other sentence), so the run has misclassified texts to list.
    const dataset = await importDataset(
      name,
      SENTENCES.map(([text, intent], i) =>
        JSON.stringify({ text: `${text} ${HOSTILE} ${i}`, label_text: i % 2 ? intent : "alarm_set" }),
      ),
    );
    await finishedRun(dataset);

    const dialogs: string[] = [];
    const { page } = await openDashboard(`#key=${key}`, {
      // What only the API could say: an intent label, a run's error, a model server's and the
      // comparison's errors, all markup.
      async before(page) {
        await page.route("**/graphql", async (route) => {
          const request = route.request().postDataJSON();
          const operation = /^\s*query (\w+)/.exec(request.query)?.[1];
          if (operation === "Models" || operation === "Compare")
            return route.fulfill({ json: { errors: [{ message: `${operation} ${HOSTILE}` }] } });
          // The API knows the label by its real name.
          if (request.variables?.intent === label) request.variables.intent = "alarm_set";
          const response = await route.fetch({ postData: JSON.stringify(request) });
          const body = JSON.parse((await response.text()).replaceAll('"alarm_set"', JSON.stringify(label)));
          if (operation === "Runs") body.data.evalRuns[0].error = `failed ${HOSTILE}`;
          return route.fulfill({ response, json: body });
        });
        page.on("dialog", (d) => {
          dialogs.push(d.message());
          void d.dismiss();
        });
      },
    });
    await page.waitForSelector("[data-testid=error-row]");

    // The newest run is the hostile dataset's, selected first.
    const newest = page.locator("[data-testid=run-row]").first();
    expect(await newest.locator("td").nth(1).textContent()).toBe(name);
    expect(await newest.locator(".status span").getAttribute("title")).toBe(`failed ${HOSTILE}`);
    expect(await page.textContent("#detail-title")).toContain(`${name}/test`);
    expect(await page.textContent("#models tbody")).toBe(`model server unavailable: Models ${HOSTILE}`);
    expect(
      await page.locator(`[data-testid=trend-legend] li[data-series="${name}/test"]`).textContent(),
    ).toBe(`${name}/test`);
    const errorRows = await page.locator("[data-testid=error-row]").allTextContents();
    expect(errorRows.length).toBeGreaterThan(0);
    for (const row of errorRows) expect(row).toContain(HOSTILE);
    expect(errorRows.some((row) => row.includes(label))).toBe(true);

    // The label in the filter, the intent detail, the scenario ticks' titles.
    expect(await page.locator("[data-testid=intent-filter] option").allTextContents()).toContain(label);
    await page.selectOption("[data-testid=intent-filter]", label);
    await page.waitForSelector("[data-testid=intent-detail]:not([hidden])");
    expect(await page.textContent("[data-testid=intent-name]")).toBe(label);
    expect(await page.locator("[data-testid=heatmap-y-ticks] .tick").first().getAttribute("title")).toContain(
      label,
    );

    // An error message in the banner.
    expect(await page.isVisible("#error")).toBe(false);
    await page.click("#compare-go");
    await page.waitForSelector("#error:not([hidden])");
    expect(await page.textContent("#error")).toBe(`Compare ${HOSTILE}`);

    // Text everywhere: no element came of it, no handler ran.
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.locator("[onerror]").count()).toBe(0);
    expect(await page.locator("main").textContent()).toContain(HOSTILE);
    expect(dialogs).toEqual([]);
    mkdirSync("test/artifacts", { recursive: true });
    await page.screenshot({ path: "test/artifacts/dashboard-hostile.png", fullPage: true });
    await page.close();
  }, 90_000);

  it("picks a model: the list and the trends show its runs only, comparisons still span models", async () => {
    const rows = readFileSync("data/custom-example/test.jsonl", "utf8").trim().split("\n").slice(0, 40);
    await finishedRun(await importDataset("custom", rows), "test", "my-intents");
    const { page } = await openDashboard();
    await submitKey(page, key);
    await page.waitForSelector("[data-testid=run-row]");
    const all = await page.locator("[data-testid=run-row]").count();
    expect(await page.locator("[data-testid=model-filter] option").allTextContents()).toEqual([
      "every model",
      "massive-scratch",
      "my-intents",
    ]);
    await page.selectOption("[data-testid=model-filter]", "my-intents");
    expect(await page.locator("[data-testid=run-row]").count()).toBe(1);
    expect(await page.locator("[data-testid=run-row] td").nth(3).textContent()).toBe("my-intents");
    expect(await page.locator("[data-testid=trend-legend] li").allTextContents()).toEqual(["custom/test"]);
    await page.selectOption("[data-testid=model-filter]", "massive-scratch");
    expect(await page.locator("[data-testid=run-row]").count()).toBe(all - 1);
    const compare = await page.locator("#compare-a option").allTextContents();
    expect(compare.some((o) => o.includes("(my-intents)"))).toBe(true);
    await page.selectOption("[data-testid=model-filter]", "");
    expect(await page.locator("[data-testid=run-row]").count()).toBe(all);
    await page.close();
  }, 90_000);
});
