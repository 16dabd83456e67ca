/**
 * Development GraphiQL's page (edge/src/graphiql-page.ts): every file it loads from unpkg is pinned
 * by the sha384 of the npm tarball's bytes, and no value it embeds can break out of its <script>.
 * The page in a browser, with the CDN's files changed: test/browser/graphiql.test.ts.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  GRAPHIQL_BASE_URL,
  GRAPHIQL_INTEGRITY,
  GRAPHIQL_VERSION,
  renderGraphiQLPage,
} from "../../../edge/src/graphiql-page.ts";
import { graphiqlPackageDir } from "../../support/graphiql-package.ts";

describe("development GraphiQL's page", () => {
  it("pins each file by the hash of the published package's bytes", () => {
    const dir = graphiqlPackageDir();
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version).toBe(GRAPHIQL_VERSION);
    const actual = Object.fromEntries(
      Object.keys(GRAPHIQL_INTEGRITY).map((file) => [
        file,
        `sha384-${createHash("sha384")
          .update(readFileSync(join(dir, file)))
          .digest("base64")}`,
      ]),
    );
    // On a version change, this message is the new GRAPHIQL_INTEGRITY.
    expect(actual, JSON.stringify(actual, null, 2)).toEqual(GRAPHIQL_INTEGRITY);
  });

  it("loads nothing from outside but the pinned files, each with its integrity", () => {
    const html = renderGraphiQLPage({ title: "IntentQL", defaultQuery: "{ scenarios }" });
    const urls = [...html.matchAll(/https?:\/\/[^"'\s<>]+/g)].map((m) => m[0]);
    expect(new Set(urls)).toEqual(new Set(Object.keys(GRAPHIQL_INTEGRITY).map((f) => GRAPHIQL_BASE_URL + f)));
    const tags = [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"[^>]*>/g)];
    expect(tags.map((t) => t[1])).toEqual([
      `${GRAPHIQL_BASE_URL}dist/graphiql.css`,
      `${GRAPHIQL_BASE_URL}dist/yoga-graphiql.umd.js`,
    ]);
    for (const [tag, url] of tags) {
      const file = url!.slice(GRAPHIQL_BASE_URL.length);
      expect(tag).toContain(`integrity="${GRAPHIQL_INTEGRITY[file]}"`);
      expect(tag).toContain('crossorigin="anonymous"');
    }
    // the three workers are fetched with their hashes
    const workers = JSON.parse(/const workerFiles = (.*);/.exec(html)![1]!) as Record<
      string,
      { url: string; integrity: string }
    >;
    expect(Object.keys(workers).sort()).toEqual(["editorWorkerService", "graphql", "json"]);
    for (const { url, integrity } of Object.values(workers))
      expect(integrity).toBe(GRAPHIQL_INTEGRITY[url.slice(GRAPHIQL_BASE_URL.length)]);
    expect(html).toContain("fetch(url, { integrity,");
  });

  it("embeds the options and title as data: nothing in them closes the script or the title", () => {
    const hostile = '</script><script>alert("x")</script><!--';
    const html = renderGraphiQLPage({ title: `</title>${hostile}`, defaultQuery: hostile, headers: hostile });
    expect(html).not.toContain('<script>alert("x")');
    expect(html).not.toContain("</title><");
    expect(html.match(/<script\b/g)).toHaveLength(3);
    // the options still arrive whole: what the page passes to GraphiQL parses back to them
    const options = /renderYogaGraphiQL\(document\.getElementById\("root"\), (.*)\)\);/.exec(html)![1]!;
    expect(JSON.parse(options)).toEqual({
      title: `</title>${hostile}`,
      defaultQuery: hostile,
      headers: hostile,
    });
  });
});
