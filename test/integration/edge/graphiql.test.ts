/**
 * GraphiQL in development (what `npm start` serves) on the real Worker: the page carries the local
 * key for a browser on this machine, and no other web page can read it, neither cross-origin (no
 * CORS on pages) nor through a DNS name rebound to 127.0.0.1 (the key only for loopback host names).
 */
import { request } from "node:http";
import { generateApiKey } from "@intentql/edge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EdgeWorker, startEdgeWorker } from "../../support/edge-worker.ts";

const key = generateApiKey();
let edge: EdgeWorker;

beforeAll(async () => {
  edge = await startEdgeWorker({
    upstreamUrl: "http://127.0.0.1:9", // no upstream: the page and CORS need none
    pepper: "graphiql-pepper",
    keys: [{ key, scopes: ["classify", "eval", "admin"] }],
    vars: { ENVIRONMENT: "development", LOCAL_API_KEY: key },
  });
}, 120_000);
afterAll(async () => {
  await edge?.dispose();
});

/** GET with raw headers (fetch may not set Host). */
function get(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(edge.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: "GET", headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("GraphiQL in development", () => {
  it("prefills the local key for this machine, and gives no other origin a way to read it", async () => {
    const { port } = new URL(edge.url);
    const page = await get("/graphql", {
      accept: "text/html",
      host: `127.0.0.1:${port}`,
      origin: "https://evil.example",
    });
    expect(page.status).toBe(200);
    expect(page.body).toContain("GraphiQL");
    expect(page.body).toContain(key);
    expect(page.headers["access-control-allow-origin"]).toBeUndefined();

    const rebound = await get("/graphql", { accept: "text/html", host: `evil.example:${port}` });
    expect(rebound.status).toBe(200);
    expect(rebound.body).toContain("GraphiQL");
    expect(rebound.body).not.toContain(key);

    // API calls keep CORS: a browser client on another origin may call the API with its own key.
    const api = await get("/graphql?query=%7Bscenarios%7D", {
      accept: "application/json",
      host: `127.0.0.1:${port}`,
      origin: "https://app.example",
    });
    expect(api.headers["access-control-allow-origin"]).toBeDefined();
  });
});
