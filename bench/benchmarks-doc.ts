/**
 * What the benchmarks that fill docs/BENCHMARKS.md share: the machine line, the section update, and
 * `--write`. Benchmarks print their section; only `--write` puts it in the file, so that a run on
 * another machine does not replace the published figures by accident.
 */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";

export const BENCHMARKS_DOC = fileURLToPath(new URL("../docs/BENCHMARKS.md", import.meta.url));

/** The machine as Node sees it, e.g. "2 logical CPUs (AMD EPYC 7B13)". */
export function describeMachine(cpus: readonly os.CpuInfo[] = os.cpus()): string {
  const model = cpus[0]?.model.trim() || "unknown CPU";
  return `${cpus.length} logical CPU${cpus.length === 1 ? "" : "s"} (${model})`;
}

/**
 * `doc` with the section that starts at the line `heading` (up to the next `## ` heading or the end)
 * replaced by `section`, or with `section` appended; the rest of the file is kept byte for byte,
 * and the result ends with a newline.
 */
export function replaceSection(doc: string, heading: string, section: string): string {
  const body = section.endsWith("\n") ? section : `${section}\n`;
  // Searched with a newline in front, so that a heading on the first line is found too.
  const start = `\n${doc}`.indexOf(`\n${heading}\n`);
  if (start === -1) return `${doc.trimEnd()}\n\n${body}`;
  const next = doc.indexOf("\n## ", start);
  return next === -1 ? `${doc.slice(0, start)}${body}` : `${doc.slice(0, start)}${body}${doc.slice(next)}`;
}

/** Writes `section` into docs/BENCHMARKS.md when the command line has `--write`; says what it did. */
export function writeSectionIfAsked(argv: readonly string[], heading: string, section: string): void {
  if (!argv.includes("--write")) {
    process.stderr.write(`not written to docs/BENCHMARKS.md (pass --write to replace its "${heading}")\n`);
    return;
  }
  writeFileSync(BENCHMARKS_DOC, replaceSection(readFileSync(BENCHMARKS_DOC, "utf8"), heading, section));
  process.stderr.write(`wrote "${heading}" of ${BENCHMARKS_DOC}\n`);
}
