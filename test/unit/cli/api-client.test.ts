/**
 * The CLI's API client against a hostile server (a fake, to inject the faults): what a server
 * answers reaches the terminal without control characters, an answer too big is refused while it
 * streams, and a body that is no GraphQL result is a clear ApiError, not a TypeError.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, apiClient, MAX_RESPONSE_BYTES, terminalSafe } from "../../../cli/src/api-client.ts";

const ESC = "\u001b";
const OSC52 = `${ESC}]52;c;ZXZpbA==${ESC}\\`; // writes the clipboard
const CLEAR = `${ESC}[2J`;
let server: Server;
let base: string;
let streamed = 0;
let elsewhere = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? "/";
    if (path === "/names") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ data: { classify: [{ intent: { name: `alarm${OSC52}${CLEAR}_set` } }] } }));
    } else if (path === "/error") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ errors: [{ message: `denied${OSC52}`, extensions: { code: `X${CLEAR}` } }] }));
    } else if (path === "/html") {
      res.statusCode = 502;
      res.end(`<h1>bad gateway</h1>${CLEAR}`);
    } else if (path === "/huge") {
      // endless, without a length: refused once past the cap, not read to the end
      res.setHeader("content-type", "application/json");
      const chunk = Buffer.alloc(1 << 20, 0x61);
      const pump = () => {
        while (res.write(chunk)) {
          streamed += chunk.length;
          if (streamed > 4 * MAX_RESPONSE_BYTES) return res.end();
        }
        res.once("drain", pump);
      };
      res.write('{"data":"');
      pump();
      res.on("close", () => {});
    } else if (path === "/redirect") {
      res.statusCode = 307;
      res.setHeader("location", `${base}/elsewhere`);
      res.end();
    } else if (path === "/elsewhere") {
      elsewhere++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ data: { classify: [] } }));
    } else if (path === "/deep") {
      res.setHeader("content-type", "application/json");
      res.end(`{"data":${"[".repeat(500_000)}${"]".repeat(500_000)}}`);
    } else if (path === "/null") {
      res.setHeader("content-type", "application/json");
      res.end("null");
    } else if (path === "/errors-string") {
      res.setHeader("content-type", "application/json");
      res.end('{"errors":"abc"}');
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** Whether `s` holds a control character other than tab and newline. */
const hasControl = (s: string) =>
  [...s].some((c) => {
    const code = c.codePointAt(0)!;
    return (code < 0x20 && c !== "\t" && c !== "\n") || (code >= 0x7f && code <= 0x9f);
  });

describe("the CLI's API client against a hostile server", () => {
  it("hands the commands data without control characters", async () => {
    const data = await apiClient(`${base}/names`, "k").request<{ classify: { intent: { name: string } }[] }>(
      "{}",
    );
    const name = data.classify[0]!.intent.name;
    expect(hasControl(name)).toBe(false);
    expect(name).toMatch(/^alarm\ufffd\]52;c;ZXZpbA==\ufffd\\\ufffd\[2J_set$/);
    expect(terminalSafe("tab\tand\nnewline stay")).toBe("tab\tand\nnewline stay");
    // bidirectional controls would show an id or a name reversed
    expect(terminalSafe("key\u202egnp.exe \u2066x\u2069 \u200fy")).toBe(
      "key\ufffdgnp.exe \ufffdx\ufffd \ufffdy",
    );
    expect(terminalSafe("café 日本 مرحبا")).toBe("café 日本 مرحبا");
  });

  it("puts no control characters in its errors, from a GraphQL error or a body that is none", async () => {
    for (const path of ["/error", "/html", "/null", "/errors-string"]) {
      const error = await apiClient(`${base}${path}`, "k")
        .request("{}")
        .catch((e: unknown) => e);
      expect(error, path).toBeInstanceOf(ApiError);
      expect(hasControl((error as ApiError).message), path).toBe(false);
    }
    await expect(apiClient(`${base}/null`, "k").request("{}")).rejects.toThrow(/no GraphQL body/);
    await expect(apiClient(`${base}/errors-string`, "k").request("{}")).rejects.toThrow(/no GraphQL body/);
  });

  it("says an answer nested too deeply to read is one, instead of overflowing", async () => {
    await expect(apiClient(`${base}/deep`, "k").request("{}")).rejects.toThrow(
      /answered data nested too deeply to read/,
    );
  });

  it("reports a redirect with where it points, and sends nothing there", async () => {
    await expect(
      apiClient(`${base}/redirect`, "k").request("{ secret }", { rows: "a dataset" }),
    ).rejects.toThrow(
      new RegExp(`answered HTTP 307, a redirect to ${base}/elsewhere; the CLI does not follow redirects`),
    );
    expect(elsewhere).toBe(0);
  });

  it("refuses an answer past MAX_RESPONSE_BYTES while it streams", async () => {
    const before = process.memoryUsage().rss;
    await expect(apiClient(`${base}/huge`, "k").request("{}")).rejects.toThrow(
      new RegExp(`answered more than ${MAX_RESPONSE_BYTES} bytes`),
    );
    expect(streamed).toBeLessThan(4 * MAX_RESPONSE_BYTES); // it stopped reading, the server did not finish
    expect(process.memoryUsage().rss - before).toBeLessThan(8 * MAX_RESPONSE_BYTES);
  }, 30_000);
});
