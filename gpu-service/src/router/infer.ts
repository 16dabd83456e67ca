/**
 * Infer request parsing and validation, and response encoding: V2 JSON tensors or the binary tensor
 * data extension. Pure functions; every bad input becomes a ProtocolError whose message names the
 * problem (the router answers 400 with it).
 */
import { endianness } from "node:os";
import {
  type BinaryTensor,
  bytesToInt64,
  type DecodedTensor,
  decodeMessage,
  elementCount,
  encodeBinaryMessage,
  type InferRequestHeader,
  type InferResponseHeader,
  ProtocolError,
  type TensorHeader,
  typedBytes,
} from "@intentql/schema";
import type { Row } from "../core/batch.ts";

export interface ModelSignature {
  name: string;
  version: string;
  maxLength: number;
  vocabSize: number;
  inputNames: readonly string[];
  outputName: string;
}

export interface ParsedInfer {
  id: string | undefined;
  rows: Row[];
  batch: number;
  /** Outputs to return, each with whether it goes in binary form. */
  outputs: { name: string; binary: boolean }[];
}

/**
 * Row-major values of a JSON tensor's `data`, flat or nested as deep as its shape has dimensions,
 * no deeper. A loop, not recursion: a body of 200,000 nested `[` overflowed the stack (500).
 */
function flattenJson(data: unknown[], shape: readonly number[], name: string): unknown[] {
  const out: unknown[] = [];
  const stack: { items: unknown[]; next: number }[] = [{ items: data, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next === top.items.length) {
      stack.pop();
      continue;
    }
    const v = top.items[top.next++];
    if (!Array.isArray(v)) out.push(v);
    else if (stack.length >= shape.length)
      throw new ProtocolError(`input ${name}: data is nested deeper than its shape [${shape.join(",")}]`);
    else stack.push({ items: v, next: 0 });
  }
  return out;
}

function tensorValues(t: DecodedTensor, count: number): BigInt64Array {
  const name = t.header.name;
  if (t.raw !== undefined) {
    if (t.raw.byteLength !== count * 8)
      throw new ProtocolError(
        `input ${name}: binary_data_size is ${t.raw.byteLength} bytes but shape [${t.header.shape.join(",")}] of INT64 needs ${count * 8}`,
      );
    return bytesToInt64(t.raw);
  }
  if (!Array.isArray(t.header.data))
    throw new ProtocolError(`input ${name} has neither "data" nor parameters.binary_data_size`);
  const flat = flattenJson(t.header.data, t.header.shape, name);
  if (flat.length !== count)
    throw new ProtocolError(
      `input ${name}: data has ${flat.length} elements but shape [${t.header.shape.join(",")}] needs ${count}`,
    );
  const out = new BigInt64Array(count);
  const halves = new Int32Array(out.buffer);
  for (let i = 0; i < count; i++) {
    const v = flat[i];
    if (typeof v !== "number" || !Number.isSafeInteger(v))
      throw new ProtocolError(`input ${name}: data[${i}] is ${JSON.stringify(v)}, not an INT64 integer`);
    // Token ids and mask values fit 31 bits: written as two int32 words, with no BigInt per element.
    if (v >= 0 && v <= 0x7fffffff) halves[2 * i] = v;
    else out[i] = BigInt(v);
  }
  return out;
}

function checkShape(t: TensorHeader, maxLength: number): [number, number] {
  const name = t.name;
  if (t.datatype !== "INT64")
    throw new ProtocolError(`input ${name}: datatype is ${JSON.stringify(t.datatype)}, expected INT64`);
  const shape = t.shape as unknown;
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== "number" || !Number.isInteger(d) || d < 0))
    throw new ProtocolError(`input ${name}: shape must be an array of non-negative integers`);
  if (shape.length !== 2)
    throw new ProtocolError(`input ${name}: shape [${shape.join(",")}] has rank ${shape.length}, expected 2`);
  const [batch, seq] = shape as [number, number];
  if (batch < 1) throw new ProtocolError(`input ${name}: batch size is ${batch}; at least 1 row is needed`);
  if (seq < 1)
    throw new ProtocolError(`input ${name}: sequence length is ${seq}; at least 1 token is needed`);
  if (seq > maxLength)
    throw new ProtocolError(
      `input ${name}: sequence length ${seq} exceeds the model's maxLength ${maxLength}`,
    );
  return [batch, seq];
}

/** The low and high 32-bit words of each INT64 element (the platform is little-endian: see below). */
const words = (values: BigInt64Array): Int32Array =>
  new Int32Array(values.buffer, values.byteOffset, values.length * 2);
if (endianness() !== "LE") throw new Error("gpu-service reads INT64 tensors as little-endian words");

export interface ParseLimits {
  /** Rows one request may carry (--max-request-rows); more is a 400 before any row is read. */
  maxRows: number;
}

export function parseInferRequest(
  body: Uint8Array,
  headerLength: number | undefined,
  model: ModelSignature,
  limits: ParseLimits = { maxRows: Number.POSITIVE_INFINITY },
): ParsedInfer {
  const { header, tensors } = decodeMessage<InferRequestHeader>(body, headerLength, "inputs");
  if (header.id !== undefined && typeof header.id !== "string")
    throw new ProtocolError('"id" must be a string');
  const byName = new Map<string, DecodedTensor>();
  for (const t of tensors) {
    const name = t.header.name;
    if (typeof name !== "string") throw new ProtocolError("every input needs a string name");
    if (!model.inputNames.includes(name))
      throw new ProtocolError(
        `unknown input "${name}"; model ${model.name} takes ${model.inputNames.join(", ")}`,
      );
    if (byName.has(name)) throw new ProtocolError(`input "${name}" appears twice`);
    byName.set(name, t);
  }
  const ids = byName.get("input_ids");
  const mask = byName.get("attention_mask");
  if (!ids || !mask)
    throw new ProtocolError(`missing input ${!ids ? "input_ids" : "attention_mask"}; both are required`);
  const [batch, seq] = checkShape(ids.header, model.maxLength);
  const maskShape = checkShape(mask.header, model.maxLength);
  if (maskShape[0] !== batch || maskShape[1] !== seq)
    throw new ProtocolError(
      `input_ids shape [${batch},${seq}] and attention_mask shape [${maskShape.join(",")}] differ`,
    );
  if (batch > limits.maxRows)
    throw new ProtocolError(
      `${batch} rows in one request is over the limit of ${limits.maxRows} (--max-request-rows): split it`,
    );
  const count = elementCount([batch, seq]);
  const idValues = tensorValues(ids, count);
  const maskValues = tensorValues(mask, count);
  // Checked on 32-bit words: a valid id or mask value has a zero high word and a small low word.
  const idWords = words(idValues);
  const maskWords = words(maskValues);
  const vocab = model.vocabSize;
  for (let i = 0; i < count; i++) {
    const lo = idWords[2 * i]!;
    if (idWords[2 * i + 1] !== 0 || lo < 0 || lo >= vocab)
      throw new ProtocolError(
        `input_ids[${Math.floor(i / seq)}][${i % seq}] = ${idValues[i]} is outside the vocabulary [0, ${model.vocabSize})`,
      );
    const m = maskWords[2 * i]!;
    if (maskWords[2 * i + 1] !== 0 || (m !== 0 && m !== 1))
      throw new ProtocolError(
        `attention_mask[${Math.floor(i / seq)}][${i % seq}] = ${maskValues[i]}; must be 0 or 1`,
      );
  }
  const rows: Row[] = [];
  for (let r = 0; r < batch; r++) {
    // A row ends at its last attended token: trailing padding is dropped here and the batcher pads
    // each run to its own longest row instead.
    let length = seq;
    while (length > 0 && maskWords[2 * (r * seq + length - 1)] === 0) length--;
    if (length === 0) throw new ProtocolError(`attention_mask row ${r} is all zeros: the row has no tokens`);
    rows.push({
      ids: idValues.subarray(r * seq, r * seq + length),
      mask: maskValues.subarray(r * seq, r * seq + length),
    });
  }

  const binaryDefault = header.parameters?.binary_data_output === true;
  let outputs: { name: string; binary: boolean }[];
  if (header.outputs === undefined || (Array.isArray(header.outputs) && header.outputs.length === 0)) {
    outputs = [{ name: model.outputName, binary: binaryDefault }];
  } else {
    if (!Array.isArray(header.outputs)) throw new ProtocolError('"outputs" must be an array');
    outputs = header.outputs.map((o, i) => {
      if (typeof o !== "object" || o === null || typeof o.name !== "string")
        throw new ProtocolError(`outputs[${i}] must be an object with a name`);
      if (o.name !== model.outputName)
        throw new ProtocolError(`unknown output "${o.name}"; model ${model.name} has ${model.outputName}`);
      const binary = o.parameters?.binary_data;
      return { name: o.name, binary: binary === undefined ? binaryDefault : binary === true };
    });
    // each output once: a name repeated 2,000 times made a 123 MB answer out of a 44 KB request
    if (outputs.length > 1)
      throw new ProtocolError(`output "${model.outputName}" is requested more than once`);
  }
  return { id: header.id, rows, batch, outputs };
}

export interface EncodedResponse {
  body: Uint8Array | string;
  /** Set when binary tensors follow the JSON header. */
  headerLength?: number;
}

export function encodeInferResponse(
  model: ModelSignature,
  request: ParsedInfer,
  logits: Float32Array,
  width: number,
): EncodedResponse {
  const base: Omit<InferResponseHeader, "outputs"> = { model_name: model.name, model_version: model.version };
  if (request.id !== undefined) base.id = request.id;
  const shape = [request.batch, width];
  const json: TensorHeader[] = [];
  const binary: BinaryTensor[] = [];
  for (const o of request.outputs) {
    if (o.binary) binary.push({ name: o.name, datatype: "FP32", shape, bytes: typedBytes(logits) });
    else json.push({ name: o.name, datatype: "FP32", shape, data: Array.from(logits) });
  }
  if (binary.length === 0) return { body: JSON.stringify({ ...base, outputs: json }) };
  // JSON outputs come first in the header; binary ones follow with their sizes.
  const { body, headerLength } = encodeBinaryMessage<InferResponseHeader>(base, "outputs", binary);
  if (json.length === 0) return { body, headerLength };
  const text = new TextDecoder().decode(body.subarray(0, headerLength));
  const header = JSON.parse(text) as InferResponseHeader;
  header.outputs = [...json, ...header.outputs];
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const merged = new Uint8Array(headerBytes.byteLength + body.byteLength - headerLength);
  merged.set(headerBytes, 0);
  merged.set(body.subarray(headerLength), headerBytes.byteLength);
  return { body: merged, headerLength: headerBytes.byteLength };
}
