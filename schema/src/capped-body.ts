/**
 * A response body read up to a byte cap: what the CLI takes from the API and what the edge takes
 * from its upstream are answers a server chose, and a body read whole (`res.text()`) let a hostile
 * one grow the reader without bound (14 GB in the CLI in 60 s). Refused at once when Content-Length
 * announces more, else as soon as the streamed bytes pass the cap; the stream is cancelled then.
 * Web streams only, so the Worker and Node read it with the same code.
 */
export async function readBodyCapped(
  response: Response,
  maxBytes: number,
): Promise<{ text: string } | { tooLarge: true }> {
  if (Number(response.headers.get("content-length") ?? "0") > maxBytes) {
    await response.body?.cancel().catch(() => {});
    return { tooLarge: true };
  }
  if (!response.body) return { text: "" };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return { tooLarge: true };
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return { text: new TextDecoder().decode(all) };
}
