/**
 * An SSE response read as a test needs it: its text until a pattern shows up, and a way to close
 * it (the client leaving). Used for subscriptions, in-process (`edge.fetch`) and over HTTP (`fetch`).
 */
export interface SseStream {
  status: number;
  /** The stream's text so far, read until `pattern` shows up in it or the stream ends. */
  until(pattern: RegExp): Promise<string>;
  close(): Promise<void>;
}

/** GET `url` as an event stream with the bearer `apiKey`, through `send` (fetch or an edge's fetch). */
export async function openSse(
  send: (request: Request) => Promise<Response>,
  url: string,
  apiKey: string,
): Promise<SseStream> {
  const controller = new AbortController();
  const response = await send(
    new Request(url, {
      headers: { accept: "text/event-stream", authorization: `Bearer ${apiKey}` },
      signal: controller.signal,
    }),
  );
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  return {
    status: response.status,
    async until(pattern) {
      while (!pattern.test(text)) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      return text;
    },
    async close() {
      controller.abort();
      await reader.cancel().catch(() => {});
    },
  };
}
