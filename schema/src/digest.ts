/**
 * Hex sha256 of a string's UTF-8 bytes, or of raw bytes: what bundle files, vocabularies and
 * datasets are identified by. Web Crypto, so the Worker and Node compute it with the same code.
 */
export async function sha256Hex(data: string | Uint8Array<ArrayBuffer>): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
