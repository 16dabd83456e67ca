/**
 * Development GraphiQL (what `npm start` serves) in a real browser (Debian's Chromium through
 * playwright-core) on the real Worker, with unpkg.com answered from the published package's files
 * (no network here): the page renders GraphiQL with the local key and Monaco's three workers, and
 * when the CDN serves a changed script, stylesheet or worker, the browser refuses it, so the
 * changed code never runs beside the key.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { generateApiKey } from "@intentql/edge";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRAPHIQL_INTEGRITY } from "../../edge/src/graphiql-page.ts";
import { haveBrowser, launchChromium } from "../support/chromium.ts";
import { type EdgeWorker, startEdgeWorker } from "../support/edge-worker.ts";
import { graphiqlPackageDir } from "../support/graphiql-package.ts";

const key = generateApiKey();
/** What a changed file on the CDN appends: it would mark the page if it ran. */
const CHANGE = "\n;globalThis.changedCodeRan = true;\n";
let edge: EdgeWorker;
let browser: Browser;
let pkg: string;

beforeAll(async () => {
  if (!haveBrowser) return;
  pkg = graphiqlPackageDir();
  edge = await startEdgeWorker({
    upstreamUrl: "http://127.0.0.1:9", // the page needs no upstream
    pepper: "graphiql-browser-pepper",
    keys: [{ key, scopes: ["classify", "eval", "admin"] }],
    vars: { ENVIRONMENT: "development", LOCAL_API_KEY: key },
  });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await edge?.dispose();
});

/** GraphiQL's page with unpkg answered from the package, `changed` (a file) served with CHANGE appended. */
async function openGraphiQL(changed?: string): Promise<{ page: Page; console: string[] }> {
  const page = await browser.newPage();
  const console: string[] = [];
  page.on("console", (m) => console.push(m.text()));
  await page.route("https://unpkg.com/**", (route) => {
    // any version's URL gets this version's file, so a page that pins nothing would run the change
    const file = /^https:\/\/unpkg\.com\/@graphql-yoga\/graphiql@[^/]+\/(.+)$/.exec(
      route.request().url(),
    )?.[1];
    if (!file || !(file in GRAPHIQL_INTEGRITY)) return route.fulfill({ status: 404, body: "no such file" });
    let body = readFileSync(join(pkg, file));
    if (file === changed) body = Buffer.concat([body, Buffer.from(CHANGE)]);
    return route.fulfill({
      status: 200,
      body,
      headers: {
        "content-type": file.endsWith(".css") ? "text/css" : "application/javascript",
        "access-control-allow-origin": "*",
      },
    });
  });
  await page.goto(`${edge.url}/graphql`, { waitUntil: "load" });
  return { page, console };
}

const ran = (page: Page) =>
  page.evaluate(() => (globalThis as { changedCodeRan?: boolean }).changedCodeRan === true);

describe.skipIf(!haveBrowser)("development GraphiQL in Chromium", () => {
  it("renders GraphiQL with the local key and Monaco's three workers", async () => {
    const { page } = await openGraphiQL();
    await page.waitForSelector(".graphiql-container", { timeout: 30_000 });
    // workerUrls: the page's top-level const (a global binding, not a property of window)
    await page.waitForFunction("Object.keys(workerUrls).length === 3", null, { timeout: 30_000 });
    // the options reached GraphiQL: its editor greets with the page's title (text of #root, not of the scripts)
    const shown = ((await page.locator("#root").textContent()) ?? "").replace(/\s+/g, " "); // Monaco draws spaces as U+00A0
    expect(shown).toContain("Welcome to IntentQL");
    expect(await page.content()).toContain(key);
    await page.close();
  }, 60_000);

  it("refuses a changed GraphiQL script: nothing of it runs and no GraphiQL is drawn", async () => {
    const { page, console } = await openGraphiQL("dist/yoga-graphiql.umd.js");
    await page.waitForTimeout(1_500);
    expect(await ran(page)).toBe(false);
    expect(await page.evaluate(() => typeof (globalThis as any).YogaGraphiQL)).toBe("undefined");
    expect(await page.locator(".graphiql-container").count()).toBe(0);
    expect(console.join("\n")).toMatch(/integrity/i);
    await page.close();
  }, 60_000);

  it("refuses a changed worker: GraphiQL still renders, without that worker", async () => {
    const { page, console } = await openGraphiQL("dist/monacoeditorwork/json.worker.bundle.js");
    await page.waitForSelector(".graphiql-container", { timeout: 30_000 });
    expect(await page.evaluate("Object.keys(workerUrls).sort()")).toEqual(["editorWorkerService", "graphql"]);
    expect(await ran(page)).toBe(false);
    expect(console.join("\n")).toMatch(/GraphiQL workers not loaded/);
    await page.close();
  }, 60_000);

  it("refuses a changed stylesheet", async () => {
    const { page, console } = await openGraphiQL("dist/graphiql.css");
    await page.waitForTimeout(1_500);
    const applied = await page.evaluate(() =>
      [...document.styleSheets].some((s) => s.href?.endsWith("graphiql.css")),
    );
    expect(applied).toBe(false);
    expect(console.join("\n")).toMatch(/integrity/i);
    await page.close();
  }, 60_000);
});
