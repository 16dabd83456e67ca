/**
 * The headers the dashboard page (/dashboard) is served with. Its CSP allows exactly the page's own
 * inline <script> and <style>, by their sha256 (edge/scripts/build-dashboard.ts computes them with the
 * page and writes edge/dashboard/csp-hashes.json; esbuild embeds that in the Worker at bundle time),
 * its fetches to its own origin (/graphql) and a data: favicon; nothing else: no 'unsafe-inline', no
 * 'unsafe-eval', no other origin, no <base>, no form posts, no framing. Trusted Types make every HTML
 * string sink (innerHTML, insertAdjacentHTML, document.write…) throw: the page builds its DOM from
 * nodes (edge/dashboard/dom.ts).
 */
import hashes from "../dashboard/csp-hashes.json";

/** Source expressions ('sha256-…') of the page's inline scripts and styles. */
export interface DashboardCspHashes {
  "script-src": readonly string[];
  "style-src": readonly string[];
}

export function dashboardCsp(inline: DashboardCspHashes): string {
  const sources = (list: readonly string[]) => (list.length > 0 ? list.join(" ") : "'none'");
  return [
    "default-src 'none'",
    `script-src ${sources(inline["script-src"])}`,
    `style-src ${sources(inline["style-src"])}`,
    "img-src data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join("; ");
}

export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": dashboardCsp(hashes),
  "x-content-type-options": "nosniff",
  // A page that opened the dashboard (window.open) keeps no handle to it, so it cannot later point
  // the dashboard at a `#key=` of its choosing (graphql.ts takeKeyFromFragment asks first, too).
  "cross-origin-opener-policy": "same-origin",
};
