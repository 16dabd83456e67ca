/**
 * Dataset uploads in parts (edge/src/eval/dataset-upload-store.ts) against a real D1: what one
 * upload may store is bounded by the bytes it announced and by a part count, however the parts come;
 * and a dataset name cannot pose as another dataset's id.
 */
import type { D1Database } from "@cloudflare/workers-types";
import { sha256Hex } from "@intentql/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatasetImportError, getDataset, importDataset } from "../../../edge/src/eval/dataset-store.ts";
import {
  finishUpload,
  MAX_OPEN_UPLOADS,
  MAX_PART_BYTES,
  MAX_UPLOAD_PARTS,
  startUpload,
  uploadPart,
} from "../../../edge/src/eval/dataset-upload-store.ts";
import { startD1 } from "../../support/d1.ts";

let db: D1Database;
let dispose: () => Promise<void>;
beforeAll(async () => {
  ({ db, dispose } = await startD1());
});
afterAll(async () => {
  await dispose();
});

const storedBytes = async (id: string) =>
  (await db
    .prepare(
      "SELECT COALESCE(SUM(length(CAST(content AS BLOB))), 0) AS n FROM dataset_upload_parts WHERE upload_id = ?",
    )
    .bind(id)
    .first<{ n: number }>())!.n;

describe("dataset uploads", () => {
  it("refuses more parts than the cap, whatever bytes are announced", async () => {
    const sha256 = "a".repeat(64);
    await expect(
      startUpload(db, { name: "bomb", sha256, parts: 16_777_216, bytes: 16_777_216 }),
    ).rejects.toThrow(DatasetImportError);
    await expect(
      startUpload(db, { name: "bomb", sha256, parts: MAX_UPLOAD_PARTS + 1, bytes: 1_000_000 }),
    ).rejects.toThrow(/at most 1024 parts/);
    const ok = await startUpload(db, { name: "fine", sha256, parts: MAX_UPLOAD_PARTS, bytes: 1_000_000 });
    expect(ok.parts).toBe(MAX_UPLOAD_PARTS);
  });

  it("stores parts only while they add up to at most the announced bytes, a part sent again counted once", async () => {
    const content = `${JSON.stringify({ text: "wake me up", label_text: "alarm_set" })}\n`;
    const bytes = new TextEncoder().encode(content).byteLength;
    const up = await startUpload(db, { name: "small", sha256: await sha256Hex(content), parts: 1, bytes });
    // one part may hold 512 KiB, but this upload announced `bytes`
    await expect(uploadPart(db, up.id, 0, "x".repeat(MAX_PART_BYTES))).rejects.toThrow(
      /more than the \d+ bytes/,
    );
    expect(await storedBytes(up.id)).toBe(0);
    await uploadPart(db, up.id, 0, content);
    await uploadPart(db, up.id, 0, content); // again: replaces, not adds
    expect(await storedBytes(up.id)).toBe(bytes);
    const result = await finishUpload(db, up.id);
    expect(result.dataset.rowCount).toBe(1);

    // two parts, each within the part limit, together over what was announced
    const two = await startUpload(db, { name: "two", sha256: "b".repeat(64), parts: 2, bytes: 10 });
    await uploadPart(db, two.id, 0, "0123456789");
    await expect(uploadPart(db, two.id, 1, "x")).rejects.toThrow(/more than the 10 bytes/);
    await uploadPart(db, two.id, 0, "01234");
    await uploadPart(db, two.id, 1, "56789");
    expect(await storedBytes(two.id)).toBe(10);
  });
});

describe("dataset names", () => {
  it("refuses a name shaped like a dataset id, so that no dataset can stand in for another", async () => {
    const content = `${JSON.stringify({ text: "stop", label_text: "audio_volume_mute" })}\n`;
    const real = await importDataset(db, { name: "real", content });
    await expect(
      importDataset(db, { name: real.dataset.id, content: `${content}${content}` }),
    ).rejects.toThrow(/form of a dataset id/);
    await expect(
      startUpload(db, { name: ` ${real.dataset.id} `, sha256: "c".repeat(64), parts: 1, bytes: 10 }),
    ).rejects.toThrow(/form of a dataset id/);
    expect((await getDataset(db, real.dataset.id))!.name).toBe("real");
  });
});

describe("dataset texts", () => {
  it("refuses a text longer than classify takes, with its line number, and imports nothing", async () => {
    const ok = JSON.stringify({ text: "wake me up", label_text: "alarm_set" });
    const long = JSON.stringify({ text: "x".repeat(2001), label_text: "alarm_set" });
    await expect(importDataset(db, { name: "long", content: `${ok}\n${long}\n` })).rejects.toThrow(
      /line 2: the text has 2001 characters; the limit is 2000/,
    );
    const { results } = await db.prepare("SELECT id FROM datasets WHERE name = 'long'").all();
    expect(results).toHaveLength(0);
    const edge = JSON.stringify({ text: "x".repeat(2000), label_text: "alarm_set" });
    await expect(importDataset(db, { name: "at-limit", content: `${edge}\n` })).resolves.toMatchObject({
      created: true,
    });
  });
});

describe("unfinished uploads", () => {
  it("keeps at most MAX_OPEN_UPLOADS at once; resuming one still works at the limit", async () => {
    await db.prepare("DELETE FROM dataset_upload_parts").run();
    await db.prepare("DELETE FROM dataset_uploads").run();
    const start = (i: number) =>
      startUpload(db, { name: `open-${i}`, sha256: i.toString(16).padStart(64, "0"), parts: 1, bytes: 10 });
    for (let i = 0; i < MAX_OPEN_UPLOADS; i++) await start(i);
    await expect(start(MAX_OPEN_UPLOADS)).rejects.toThrow(/16 uploads are unfinished/);
    await expect(start(0)).resolves.toMatchObject({ name: "open-0" }); // a resume, not a new one
  });
});
