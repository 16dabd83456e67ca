/**
 * The edge's V2 client reads at most so much of an upstream answer (a fake fetch, to inject a
 * hostile upstream): a vocab.txt or JSON body past its cap is refused as it streams, or at once when
 * its Content-Length says so, so a learnt model cannot make an isolate buffer an unbounded body.
 */
import { describe, expect, it } from "vitest";
import {
  MAX_UPSTREAM_JSON_BYTES,
  MAX_UPSTREAM_VOCAB_BYTES,
  UpstreamTooLargeError,
  V2Client,
} from "../../../edge/src/upstream/v2-client.ts";

/** An endless body of "a\n" lines, counting what was pulled from it. */
function endless(pulled: { bytes: number }): ReadableStream<Uint8Array> {
  const chunk = new TextEncoder().encode("a\n".repeat(32_768));
  return new ReadableStream({
    pull(controller) {
      pulled.bytes += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

const client = (respond: () => Response) =>
  new V2Client({ url: "http://upstream.test", timeoutMs: 10_000, fetch: async () => respond() });

describe("the V2 client's caps on what it reads", () => {
  it("refuses a vocab.txt past MAX_UPSTREAM_VOCAB_BYTES while it streams", async () => {
    const pulled = { bytes: 0 };
    await expect(client(() => new Response(endless(pulled))).vocabText("m")).rejects.toBeInstanceOf(
      UpstreamTooLargeError,
    );
    expect(pulled.bytes).toBeLessThan(MAX_UPSTREAM_VOCAB_BYTES + 2 ** 20);
  });

  it("refuses at once what a Content-Length announces as too big", async () => {
    const pulled = { bytes: 0 };
    const announced = () =>
      new Response(endless(pulled), { headers: { "content-length": String(MAX_UPSTREAM_VOCAB_BYTES + 1) } });
    await expect(client(announced).vocabText("m")).rejects.toBeInstanceOf(UpstreamTooLargeError);
    expect(pulled.bytes).toBeLessThan(2 ** 20); // at most what the stream queued before the cancel
  });

  it("refuses a JSON answer past MAX_UPSTREAM_JSON_BYTES as UPSTREAM_UNAVAILABLE, and reads one within it", async () => {
    const pulled = { bytes: 0 };
    await expect(client(() => new Response(endless(pulled))).labelsJson("m")).rejects.toMatchObject({
      extensions: { code: "UPSTREAM_UNAVAILABLE" },
    });
    expect(pulled.bytes).toBeLessThan(MAX_UPSTREAM_JSON_BYTES + 2 ** 20);
    const labels = [{ id: 0, name: "a_b", scenario: "a", action: "b" }];
    await expect(client(() => Response.json(labels)).labelsJson("m")).resolves.toEqual(labels);
    await expect(client(() => new Response("a\nb\n")).vocabText("m")).resolves.toBe("a\nb\n");
  });
});
