/**
 * Dataset uploads in parts (migration 0003): start → parts in any order, each idempotent → finish,
 * which checks the whole against its sha256 and hands it to the atomic, idempotent importDataset.
 * Bounded: at most MAX_UPLOAD_PARTS parts of at most MAX_PART_BYTES each (under the edge's 1 MiB
 * body limit), which together may not exceed the bytes the upload announced (≤ MAX_UPLOAD_BYTES);
 * at most MAX_OPEN_UPLOADS unfinished at once; those left for a day are deleted when the next starts.
 */

import { sha256Hex } from "@intentql/schema";
import { DatasetImportError, type Db, datasetName, importDataset } from "./dataset-store.ts";

export const MAX_PART_BYTES = 512 * 1024;
export const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;
/** intentql's client cuts 16 MiB into ~33 parts; the cap keeps `missing` and `received` small. */
export const MAX_UPLOAD_PARTS = 1024;
/** Unfinished uploads kept at once (all keys together): at most 16 × 16 MiB of parts in D1. */
export const MAX_OPEN_UPLOADS = 16;
const STALE_AFTER_MS = 24 * 60 * 60 * 1000;

export interface DatasetUpload {
  id: string;
  name: string;
  parts: number;
  bytes: number;
  /** Part indices already stored, ascending. */
  received: number[];
}

export interface StartUpload {
  name: string;
  split?: string | null;
  /** Hex sha256 of the whole file's UTF-8 bytes. */
  sha256: string;
  parts: number;
  bytes: number;
}

const encoder = new TextEncoder();

async function describe(db: Db, id: string): Promise<DatasetUpload | null> {
  const upload = await db
    .prepare("SELECT id, name, parts, bytes FROM dataset_uploads WHERE id = ?")
    .bind(id)
    .first<{ id: string; name: string; parts: number; bytes: number }>();
  if (!upload) return null;
  const { results } = await db
    .prepare("SELECT idx FROM dataset_upload_parts WHERE upload_id = ? ORDER BY idx")
    .bind(id)
    .all<{ idx: number }>();
  return { ...upload, received: results.map((r) => r.idx) };
}

export async function startUpload(db: Db, input: StartUpload): Promise<DatasetUpload> {
  const name = datasetName(input.name);
  if (!/^[0-9a-f]{64}$/.test(input.sha256))
    throw new DatasetImportError("sha256 must be 64 lowercase hex characters (of the whole file)");
  if (!Number.isInteger(input.bytes) || input.bytes < 1 || input.bytes > MAX_UPLOAD_BYTES)
    throw new DatasetImportError(`bytes must be 1 to ${MAX_UPLOAD_BYTES} (16 MiB)`);
  const minParts = Math.ceil(input.bytes / MAX_PART_BYTES);
  const maxParts = Math.min(input.bytes, MAX_UPLOAD_PARTS);
  if (!Number.isInteger(input.parts) || input.parts < minParts || input.parts > maxParts)
    throw new DatasetImportError(
      `parts must be ${minParts} to ${maxParts}: each part is at most ${MAX_PART_BYTES} bytes, and an upload has at most ${MAX_UPLOAD_PARTS} parts`,
    );
  const split = input.split ?? null;
  const id = `up_${(await sha256Hex(JSON.stringify([input.sha256, name, split]))).slice(0, 16)}`;
  const staleBefore = new Date(Date.now() - STALE_AFTER_MS).toISOString();
  await db.batch([
    db
      .prepare(
        "DELETE FROM dataset_upload_parts WHERE upload_id IN (SELECT id FROM dataset_uploads WHERE created_at < ?)",
      )
      .bind(staleBefore),
    db.prepare("DELETE FROM dataset_uploads WHERE created_at < ?").bind(staleBefore),
    db
      .prepare(
        `INSERT INTO dataset_uploads (id, name, split, content_sha256, parts, bytes, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE (SELECT COUNT(*) FROM dataset_uploads) < ?8
         ON CONFLICT(id) DO NOTHING`,
      )
      .bind(
        id,
        name,
        split,
        input.sha256,
        input.parts,
        input.bytes,
        new Date().toISOString(),
        MAX_OPEN_UPLOADS,
      ),
  ]);
  const upload = await describe(db, id);
  if (!upload)
    throw new DatasetImportError(
      `${MAX_OPEN_UPLOADS} uploads are unfinished: finish one (or let a day pass) before starting another`,
    );
  if (upload.parts !== input.parts || upload.bytes !== input.bytes)
    throw new DatasetImportError(
      `upload ${id} was started with ${upload.parts} parts of ${upload.bytes} bytes; resume with the same split`,
    );
  return upload;
}

export async function uploadPart(db: Db, id: string, index: number, content: string): Promise<DatasetUpload> {
  const upload = await describe(db, id);
  if (!upload) throw new DatasetImportError(`no upload ${id} (finished, or started more than a day ago)`);
  if (!Number.isInteger(index) || index < 0 || index >= upload.parts)
    throw new DatasetImportError(`part index must be 0 to ${upload.parts - 1}`);
  const bytes = encoder.encode(content).byteLength;
  if (bytes === 0 || bytes > MAX_PART_BYTES)
    throw new DatasetImportError(`a part must have 1 to ${MAX_PART_BYTES} bytes, this one has ${bytes}`);
  // Stored only while the parts (this one replacing any earlier copy of it) stay within the bytes
  // the upload announced: checked and written in one statement.
  const { meta } = await db
    .prepare(
      `INSERT OR REPLACE INTO dataset_upload_parts (upload_id, idx, content)
       SELECT ?1, ?2, ?3
       WHERE (SELECT COALESCE(SUM(length(CAST(content AS BLOB))), 0) FROM dataset_upload_parts
              WHERE upload_id = ?1 AND idx <> ?2) + ?4 <= ?5`,
    )
    .bind(id, index, content, bytes, upload.bytes)
    .run();
  if (meta.changes === 0)
    throw new DatasetImportError(
      `the parts would add up to more than the ${upload.bytes} bytes this upload announced: start it again with the file's real size`,
    );
  return { ...upload, received: [...new Set([...upload.received, index])].sort((a, b) => a - b) };
}

/** Checks the whole, imports it (atomically, idempotently) and deletes the upload. */
export async function finishUpload(db: Db, id: string): ReturnType<typeof importDataset> {
  const upload = await db
    .prepare("SELECT name, split, content_sha256, parts, bytes FROM dataset_uploads WHERE id = ?")
    .bind(id)
    .first<{ name: string; split: string | null; content_sha256: string; parts: number; bytes: number }>();
  if (!upload) throw new DatasetImportError(`no upload ${id} (finished, or started more than a day ago)`);
  const { results } = await db
    .prepare("SELECT idx, content FROM dataset_upload_parts WHERE upload_id = ? ORDER BY idx")
    .bind(id)
    .all<{ idx: number; content: string }>();
  const stored = new Set(results.map((r) => r.idx));
  const missing = Array.from({ length: upload.parts }, (_, i) => i).filter((i) => !stored.has(i));
  if (missing.length > 0)
    throw new DatasetImportError(
      `parts ${missing.slice(0, 20).join(", ")} are missing; send them, then finish`,
    );
  const content = results.map((r) => r.content).join("");
  if ((await sha256Hex(content)) !== upload.content_sha256)
    throw new DatasetImportError(
      "the parts do not add up to the file's sha256 (a part changed or was cut differently): start the upload again",
    );
  const remove = () =>
    db.batch([
      db.prepare("DELETE FROM dataset_upload_parts WHERE upload_id = ?").bind(id),
      db.prepare("DELETE FROM dataset_uploads WHERE id = ?").bind(id),
    ]);
  try {
    const result = await importDataset(db, {
      name: upload.name,
      content,
      ...(upload.split ? { split: upload.split } : {}),
    });
    await remove();
    return result;
  } catch (error) {
    // Bad rows will not get better by retrying: the upload is dropped with the line numbers reported.
    if (error instanceof DatasetImportError) await remove();
    throw error;
  }
}
