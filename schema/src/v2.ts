/**
 * Open Inference Protocol (KServe V2) REST messages, with the binary tensor data extension, as
 * Triton implements them (docs/specs/open-inference-protocol). Shared by the edge's upstream
 * client and gpu-service: pure encoding/decoding, no I/O.
 *
 * Binary extension: the body is a JSON header followed by raw tensor bytes; the header's length
 * travels in the `Inference-Header-Content-Length` HTTP header. A binary tensor carries
 * `parameters.binary_data_size` instead of `data`, and its bytes follow in the order of the tensors
 * in the header, little-endian, row-major.
 */

export const HEADER_LENGTH = "inference-header-content-length";
export const BINARY_CONTENT_TYPE = "application/octet-stream";

export type Datatype =
  | "BOOL"
  | "UINT8"
  | "UINT16"
  | "UINT32"
  | "UINT64"
  | "INT8"
  | "INT16"
  | "INT32"
  | "INT64"
  | "FP16"
  | "FP32"
  | "FP64"
  | "BYTES";

export const DATATYPE_BYTES: Record<Exclude<Datatype, "BYTES">, number> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
};

export type Parameters = Record<string, string | number | boolean>;

export interface TensorHeader {
  name: string;
  datatype: Datatype;
  shape: number[];
  parameters?: Parameters;
  /** JSON tensor data: flat row-major (nested arrays are accepted on input, per the spec). */
  data?: unknown[];
}

export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
}

export interface InferRequestHeader {
  id?: string;
  parameters?: Parameters;
  inputs: TensorHeader[];
  outputs?: RequestedOutput[];
}

export interface InferResponseHeader {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Parameters;
  outputs: TensorHeader[];
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform: string;
  inputs: { name: string; datatype: Datatype; shape: number[] }[];
  outputs: { name: string; datatype: Datatype; shape: number[] }[];
  parameters?: Parameters;
}

export interface ErrorBody {
  error: string;
}

/** A decoded tensor: its header plus its bytes when they came in binary form. */
export interface DecodedTensor {
  header: TensorHeader;
  raw?: Uint8Array;
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

export function elementCount(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export interface BinaryTensor {
  name: string;
  datatype: Exclude<Datatype, "BYTES">;
  shape: number[];
  bytes: Uint8Array;
}

/**
 * A JSON header whose binary tensors' bytes follow it. Returns the body and the header length for
 * `Inference-Header-Content-Length`.
 */
export function encodeBinaryMessage<H extends { inputs?: TensorHeader[]; outputs?: unknown[] }>(
  header: Omit<H, "inputs" | "outputs"> & Partial<Pick<H, "inputs" | "outputs">>,
  key: "inputs" | "outputs",
  tensors: BinaryTensor[],
): { body: Uint8Array; headerLength: number } {
  const described: TensorHeader[] = tensors.map((t) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    parameters: { binary_data_size: t.bytes.byteLength },
  }));
  const json = encoder.encode(JSON.stringify({ ...header, [key]: described }));
  let total = json.byteLength;
  for (const t of tensors) total += t.bytes.byteLength;
  const body = new Uint8Array(total);
  body.set(json, 0);
  let offset = json.byteLength;
  for (const t of tensors) {
    body.set(t.bytes, offset);
    offset += t.bytes.byteLength;
  }
  return { body, headerLength: json.byteLength };
}

/**
 * Splits a V2 body into its JSON header and the binary bytes of each tensor listed under `key`.
 * `headerLength` is the `Inference-Header-Content-Length` value, or undefined for pure JSON.
 * Throws ProtocolError with a message fit for a 400 answer.
 */
export function decodeMessage<H>(
  body: Uint8Array,
  headerLength: number | undefined,
  key: "inputs" | "outputs",
): { header: H; tensors: DecodedTensor[] } {
  if (headerLength !== undefined) {
    if (!Number.isInteger(headerLength) || headerLength < 0)
      throw new ProtocolError("Inference-Header-Content-Length must be a non-negative integer");
    if (headerLength > body.byteLength)
      throw new ProtocolError(
        `Inference-Header-Content-Length is ${headerLength} but the body has only ${body.byteLength} bytes`,
      );
  }
  const jsonEnd = headerLength ?? body.byteLength;
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(body.subarray(0, jsonEnd)));
  } catch (error) {
    throw new ProtocolError(`request header is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header))
    throw new ProtocolError("request header must be a JSON object");
  const list = (header as Record<string, unknown>)[key];
  if (!Array.isArray(list)) throw new ProtocolError(`"${key}" must be an array`);
  let offset = jsonEnd;
  const tensors: DecodedTensor[] = [];
  for (const [i, t] of list.entries()) {
    if (typeof t !== "object" || t === null) throw new ProtocolError(`${key}[${i}] must be an object`);
    const tensor = t as TensorHeader;
    const size = tensor.parameters?.binary_data_size;
    if (size === undefined) {
      tensors.push({ header: tensor });
      continue;
    }
    if (headerLength === undefined)
      throw new ProtocolError(
        `${key}[${i}] has binary_data_size but no Inference-Header-Content-Length was sent`,
      );
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0)
      throw new ProtocolError(`${key}[${i}].parameters.binary_data_size must be a non-negative integer`);
    if (offset + size > body.byteLength)
      throw new ProtocolError(
        `${key}[${i}] (${String(tensor.name)}) declares ${size} binary bytes but only ${body.byteLength - offset} remain`,
      );
    tensors.push({ header: tensor, raw: body.subarray(offset, offset + size) });
    offset += size;
  }
  if (headerLength !== undefined && offset !== body.byteLength)
    throw new ProtocolError(`${body.byteLength - offset} bytes follow the last binary tensor`);
  return { header: header as H, tensors };
}

/** Copies little-endian bytes into a typed array (copy: the source may be unaligned). */
export function bytesToInt64(raw: Uint8Array): BigInt64Array {
  const out = new BigInt64Array(raw.byteLength / 8);
  new Uint8Array(out.buffer).set(raw);
  return out;
}

export function bytesToFloat32(raw: Uint8Array): Float32Array {
  const out = new Float32Array(raw.byteLength / 4);
  new Uint8Array(out.buffer).set(raw);
  return out;
}

export function typedBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
