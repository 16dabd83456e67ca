/**
 * Builds the dashboard into one self-contained HTML file (edge/dist/dashboard.html): the app and
 * Chart.js bundled and inlined, so the Worker serves it with no CDN and no asset store. wrangler runs
 * this before `dev` and `deploy` ([build] in wrangler.toml).
 *
 * The page runs under a hash-based CSP (edge/src/dashboard-headers.ts): no 'unsafe-inline', so the
 * Worker must name the sha256 of each inline <script> and <style>. This writes them to
 * edge/dashboard/csp-hashes.json, which the Worker imports (esbuild embeds it at bundle time). That
 * file is committed, not in dist/, so that the edge type-checks and loads in-process in a fresh
 * clone; wrangler rebuilds it with the page before every bundle, so the two always match in a Worker.
 * It is rewritten only when it changes (wrangler dev watches edge/dashboard/).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { build } from "esbuild";

const SOURCE = resolve(import.meta.dirname, "..", "dashboard");
export const DASHBOARD_HTML = resolve(import.meta.dirname, "..", "dist", "dashboard.html");
export const CSP_HASHES = join(SOURCE, "csp-hashes.json");

/** CSP source expressions ('sha256-…') of the page's inline scripts and styles, in page order. */
export interface CspHashes {
  "script-src": string[];
  "style-src": string[];
}

/** The CSP source expression of an inline element's text: the sha256 of its UTF-8, base64. */
export const cspHash = (text: string): string =>
  `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

const INLINE = {
  "script-src": /<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi,
  "style-src": /<style\b([^>]*)>([\s\S]*?)<\/style\s*>/gi,
} as const;

/**
 * The hashes of every inline <script> and <style> of a page. Throws on what a hash-only CSP would
 * block anyway, so that the build fails instead of the page: external scripts or stylesheets,
 * style="…" or on…="…" attributes, javascript: URLs.
 */
export function inlineHashes(html: string): CspHashes {
  const hashes: CspHashes = { "script-src": [], "style-src": [] };
  let markup = html;
  for (const [directive, pattern] of Object.entries(INLINE) as [keyof CspHashes, RegExp][]) {
    for (const [, attributes, text] of html.matchAll(pattern)) {
      if (/\bsrc\s*=/i.test(attributes!)) throw new Error(`dashboard: external <script${attributes}>`);
      hashes[directive].push(cspHash(text!));
    }
    markup = markup.replace(pattern, "");
  }
  const blocked = [
    [/\sstyle\s*=/i, "a style attribute"],
    [/\son[a-z]+\s*=/i, "an inline event handler attribute"],
    [/javascript:/i, "a javascript: URL"],
    [/^<link\b.*\brel\s*=\s*["']?stylesheet/i, "an external stylesheet"],
  ] as const;
  for (const [tag] of markup.matchAll(/<[a-z][^>]*>/gi))
    for (const [pattern, what] of blocked)
      if (pattern.test(tag))
        throw new Error(`dashboard: index.html has ${what}, which its CSP blocks: ${tag}`);
  if (hashes["script-src"].length === 0) throw new Error("dashboard: no inline <script>");
  return hashes;
}

/** The page and its hashes, without writing anything. */
export async function buildDashboard(): Promise<{ html: string; hashes: CspHashes }> {
  const result = await build({
    entryPoints: [join(SOURCE, "app.ts")],
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    write: false,
    legalComments: "inline",
  });
  const js = result.outputFiles[0]!.text.replaceAll("</script", "<\\/script");
  // The HTML parser turns CR LF into LF in a script's text before the browser hashes it: so the page
  // is served with LF only (a checkout with CR LF line ends still matches its hashes).
  const html = readFileSync(join(SOURCE, "index.html"), "utf8")
    .replace("/*APP*/", () => js)
    .replace(/\r\n?/g, "\n");
  return { html, hashes: inlineHashes(html) };
}

/** Writes `text` to `path` unless it already holds it; atomically (tests may read it meanwhile). */
function writeIfChanged(path: string, text: string): void {
  try {
    if (readFileSync(path, "utf8") === text) return;
  } catch {
    // not there yet
  }
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

export const hashesJson = (hashes: CspHashes): string => `${JSON.stringify(hashes, null, 2)}\n`;

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { html, hashes } = await buildDashboard();
  writeIfChanged(DASHBOARD_HTML, html);
  writeIfChanged(CSP_HASHES, hashesJson(hashes));
  process.stdout.write(
    `dashboard: ${DASHBOARD_HTML} (${(html.length / 1024).toFixed(0)} KiB), ${CSP_HASHES}\n`,
  );
}
