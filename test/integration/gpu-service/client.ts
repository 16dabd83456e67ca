import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  decodeMessage,
  encodeBinaryMessage,
  HEADER_LENGTH,
  type InferResponseHeader,
  typedBytes,
} from "@intentql/schema";
import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";

export const BUNDLE_DIR = resolve(import.meta.dirname, "../../../models/massive-scratch");
export const MODEL = "massive-scratch";
export const labels = JSON.parse(readFileSync(resolve(BUNDLE_DIR, "labels.json"), "utf8")) as {
  name: string;
}[];
export const tokenizer = new BertWordPieceTokenizer(
  parseVocabTxt(readFileSync(resolve(BUNDLE_DIR, "vocab.txt"), "utf8")),
);

export function jsonInfer(ids: number[][], mask: number[][] = ids.map((r) => r.map(() => 1)), extra = {}) {
  const shape = [ids.length, ids[0]?.length ?? 0];
  return JSON.stringify({
    inputs: [
      { name: "input_ids", datatype: "INT64", shape, data: ids.flat() },
      { name: "attention_mask", datatype: "INT64", shape, data: mask.flat() },
    ],
    ...extra,
  });
}

/** A binary-extension request for the given texts, tokenized like the edge does. */
export function binaryInfer(texts: string[], header: Record<string, unknown> = {}) {
  const batch = tokenizer.encodeBatch(texts, 128);
  const shape = [batch.batchSize, batch.seqLength];
  return encodeBinaryMessage(header, "inputs", [
    { name: "input_ids", datatype: "INT64", shape, bytes: typedBytes(batch.inputIds) },
    { name: "attention_mask", datatype: "INT64", shape, bytes: typedBytes(batch.attentionMask) },
  ]);
}

export async function postBinary(
  url: string,
  texts: string[],
  opts: { header?: Record<string, unknown>; token?: string } = {},
): Promise<{ status: number; header: InferResponseHeader; logits: Float32Array | null }> {
  const { body, headerLength } = binaryInfer(texts, opts.header);
  const res = await fetch(`${url}/v2/models/${MODEL}/infer`, {
    method: "POST",
    body: body.slice(),
    headers: {
      [HEADER_LENGTH]: String(headerLength),
      "content-type": "application/octet-stream",
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const length = res.headers.get(HEADER_LENGTH);
  if (length === null)
    return { status: res.status, header: JSON.parse(new TextDecoder().decode(bytes)), logits: null };
  const decoded = decodeMessage<InferResponseHeader>(bytes, Number(length), "outputs");
  const raw = decoded.tensors[0]?.raw;
  const logits = raw ? new Float32Array(raw.slice().buffer) : null;
  return { status: res.status, header: decoded.header, logits };
}

export function argmaxRows(logits: Float32Array | number[], width: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < logits.length; i += width) {
    let best = i;
    for (let j = i; j < i + width; j++) if (logits[j]! > logits[best]!) best = j;
    out.push(best - i);
  }
  return out;
}
