/**
 * Development GraphiQL's page. graphql-yoga's own page loads GraphiQL's script, stylesheet and
 * Monaco's three workers from unpkg.com unchecked, and the page holds `npm start`'s local key
 * (app.ts). This page loads the same kind of files from unpkg, each pinned by Subresource
 * Integrity (sha384): the browser refuses a script or stylesheet whose bytes differ, and the
 * workers are fetched with `integrity` too, so a changed file on the CDN never runs beside the key.
 *
 * The hashes are of the files in the npm tarball of GRAPHIQL_PACKAGE@GRAPHIQL_VERSION (unpkg serves
 * those bytes). test/unit/edge/graphiql-page.test.ts packs that tarball and compares; after a version
 * change its failure message prints the new map.
 */
import type { GraphiQLOptions } from "graphql-yoga";

export const GRAPHIQL_PACKAGE = "@graphql-yoga/graphiql";
export const GRAPHIQL_VERSION = "4.5.0";

/** Every file the page loads, in the package, with its sha384. */
export const GRAPHIQL_INTEGRITY: Readonly<Record<string, string>> = {
  "dist/graphiql.css": "sha384-Xp/7OLcB0QxJbd7DgYyj2SlhlXcC3CfoZwV0noESXagTOy5SgLd0fvxFirGgDlSe",
  "dist/yoga-graphiql.umd.js": "sha384-/t4fhWxYGaViR67PMxhDacRXghTA/X82HkhLqo1g3mf/YS3U8WQRV4mDYOi+WAwY",
  "dist/monacoeditorwork/editor.worker.bundle.js":
    "sha384-pE2N9HoATIHFXyG+qNs0KfCQYNupaLtNYdrU+207YoYufZkQXiNrxwhjD19bwavY",
  "dist/monacoeditorwork/json.worker.bundle.js":
    "sha384-DWcw3li66h7qm7RgvaRzwTHxNSsmDbhaapFdWTO7qtVLuSCrGXwp0Kg2QIutW7Iu",
  // The double dot is the package's own file name.
  "dist/monacoeditorwork/graphql.worker..bundle.js":
    "sha384-PFVHFyE1C49Jx+IQWrSNUWIDw1b3aaYAoDYJip6kaM+AqrNwvYabc3Vn5oR7bJ5d",
};

export const GRAPHIQL_BASE_URL = `https://unpkg.com/${GRAPHIQL_PACKAGE}@${GRAPHIQL_VERSION}/`;

/** Monaco's worker labels → their files (what MonacoEnvironment.getWorkerUrl is asked for). */
const WORKERS = {
  editorWorkerService: "dist/monacoeditorwork/editor.worker.bundle.js",
  json: "dist/monacoeditorwork/json.worker.bundle.js",
  graphql: "dist/monacoeditorwork/graphql.worker..bundle.js",
};

/** JSON for inside a <script>: no "<", so no value can close the element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replaceAll("<", "\\u003c");

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** `attribute`="the file's URL" with its integrity, fetched without credentials. */
const pinned = (attribute: "href" | "src", file: string) =>
  `${attribute}="${GRAPHIQL_BASE_URL}${file}" integrity="${GRAPHIQL_INTEGRITY[file]}" crossorigin="anonymous"`;

/** yoga's `renderGraphiQL`: the page for `options` (what the `graphiql` option returned). */
export function renderGraphiQLPage(options: GraphiQLOptions = {}): string {
  const title = escapeHtml(options.title ?? "GraphiQL");
  const workerFiles = Object.fromEntries(
    Object.entries(WORKERS).map(([label, file]) => [
      label,
      { url: GRAPHIQL_BASE_URL + file, integrity: GRAPHIQL_INTEGRITY[file] },
    ]),
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="stylesheet" ${pinned("href", "dist/graphiql.css")}>
</head>
<body>
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root">Loading ${title}…</div>
<script>
const workerFiles = ${scriptJson(workerFiles)};
const workerUrls = {};
// Each worker's source is fetched with its hash (a mismatch rejects), then run from a blob: URL.
function loadWorkers() {
  return Promise.all(
    Object.entries(workerFiles).map(async ([label, { url, integrity }]) => {
      const response = await fetch(url, { integrity, mode: "cors", credentials: "omit" });
      if (!response.ok) throw new Error(url + ": HTTP " + response.status);
      const source = new Blob([await response.text()], { type: "application/javascript" });
      workerUrls[label] = URL.createObjectURL(source);
    }),
  );
}
self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_moduleId, label) => workerUrls[label] };
</script>
<script ${pinned("src", "dist/yoga-graphiql.umd.js")}></script>
<script>
loadWorkers()
  .catch((error) => console.error("GraphiQL workers not loaded:", error))
  .finally(() => YogaGraphiQL.renderYogaGraphiQL(document.getElementById("root"), ${scriptJson(options)}));
</script>
</body>
</html>
`;
}
