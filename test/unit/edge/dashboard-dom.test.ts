/**
 * The dashboard without a browser: its sources build the UI from DOM nodes (no HTML strings), its
 * markup has nothing a hash-based CSP blocks, the committed CSP hashes are those of the page the
 * sources build, and the header the Worker sends allows exactly them. test/browser/dashboard.test.ts
 * checks the same in Chromium.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  buildDashboard,
  CSP_HASHES,
  cspHash,
  hashesJson,
  inlineHashes,
} from "../../../edge/scripts/build-dashboard.ts";
import { DASHBOARD_HEADERS, dashboardCsp } from "../../../edge/src/dashboard-headers.ts";

const DASHBOARD = resolve(import.meta.dirname, "../../../edge/dashboard");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.(ts|html)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** A directive's sources in a CSP header. */
function directive(csp: string, name: string): string[] | undefined {
  for (const part of csp.split(";")) {
    const [key, ...values] = part.trim().split(/\s+/);
    if (key === name) return values;
  }
  return undefined;
}

describe("dashboard sources", () => {
  const files = sources(DASHBOARD);

  it("are found", () => {
    const names = files.map((f) => relative(DASHBOARD, f));
    expect(names).toContain("app.ts");
    expect(names).toContain("index.html");
    expect(names.some((n) => n.startsWith("views/"))).toBe(true);
  });

  it("never turn strings into HTML", () => {
    const sinks =
      /\b(innerHTML|outerHTML|insertAdjacentHTML|createContextualFragment|DOMParser|document\.write(ln)?|srcdoc|setHTMLUnsafe)\b/;
    for (const file of files.filter((f) => f.endsWith(".ts"))) {
      const lines = readFileSync(file, "utf8").split("\n");
      const hits = lines.flatMap((line, i) => (sinks.test(line) ? [`${i + 1}: ${line.trim()}`] : []));
      expect(hits, relative(DASHBOARD, file)).toEqual([]);
    }
  });

  it("set no style attribute and no inline handler (CSSOM and listeners instead)", () => {
    for (const file of files.filter((f) => f.endsWith(".ts"))) {
      const text = readFileSync(file, "utf8");
      expect(text, relative(DASHBOARD, file)).not.toMatch(/setAttribute\(\s*["'](style|on\w+)["']/);
      expect(text, relative(DASHBOARD, file)).not.toMatch(/\.style\.cssText|\bstyle\s*:\s*["'`]/);
    }
  });

  it("have markup with nothing a hash-based CSP blocks", () => {
    const html = readFileSync(join(DASHBOARD, "index.html"), "utf8");
    expect(() => inlineHashes(html)).not.toThrow();
    for (const bad of [
      '<div style="color:red"></div>',
      '<button onclick="go()">go</button>',
      '<a href="javascript:go()">go</a>',
      '<script src="https://cdn.example/chart.js"></script>',
      '<link rel="stylesheet" href="/x.css">',
    ])
      expect(() => inlineHashes(html.replace("<main>", `<main>${bad}`)), bad).toThrow(/CSP|external/);
  });
});

describe("dashboard CSP", () => {
  it("hashes every inline script and style of a page", () => {
    const page = "<style>a{}</style><p>x</p><script type=module>go()</script><script>\n1\n</script>";
    expect(inlineHashes(page)).toEqual({
      "script-src": [cspHash("go()"), cspHash("\n1\n")],
      "style-src": [cspHash("a{}")],
    });
    // The value CSP expects: base64 of the sha256 of the UTF-8 text.
    expect(cspHash("")).toBe("'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
  });

  it("has committed hashes that are those of the page the sources build (npm run build:dashboard)", async () => {
    const { html, hashes } = await buildDashboard();
    expect(html).not.toContain("/*APP*/");
    expect(html).not.toContain("\r");
    expect(readFileSync(CSP_HASHES, "utf8")).toBe(hashesJson(hashes));
    expect(hashes["script-src"]).toHaveLength(1);
    expect(hashes["style-src"]).toHaveLength(1);
  }, 60_000);

  it("is sent with the page: its hashes only, no 'unsafe-inline' or 'unsafe-eval', nothing else allowed", () => {
    const committed = JSON.parse(readFileSync(CSP_HASHES, "utf8"));
    const csp = DASHBOARD_HEADERS["content-security-policy"]!;
    expect(csp).toBe(dashboardCsp(committed));
    expect(csp).not.toMatch(/unsafe|\*|https?:/);
    expect(directive(csp, "default-src")).toEqual(["'none'"]);
    expect(directive(csp, "script-src")).toEqual(committed["script-src"]);
    expect(directive(csp, "style-src")).toEqual(committed["style-src"]);
    expect(directive(csp, "connect-src")).toEqual(["'self'"]);
    expect(directive(csp, "img-src")).toEqual(["data:"]);
    for (const name of ["base-uri", "form-action", "frame-ancestors", "trusted-types"])
      expect(directive(csp, name), name).toEqual(["'none'"]);
    expect(directive(csp, "require-trusted-types-for")).toEqual(["'script'"]);
    expect(DASHBOARD_HEADERS["content-type"]).toBe("text/html; charset=utf-8");
    expect(DASHBOARD_HEADERS["x-content-type-options"]).toBe("nosniff");
    expect(DASHBOARD_HEADERS["cross-origin-opener-policy"]).toBe("same-origin");
    // No hashes (a page without inline styles): 'none', never an empty directive (which allows nothing
    // too, but reads like an omission).
    expect(directive(dashboardCsp({ "script-src": ["'sha256-x'"], "style-src": [] }), "style-src")).toEqual([
      "'none'",
    ]);
  });
});
