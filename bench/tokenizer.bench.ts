/**
 * Edge tokenizer throughput vs @huggingface/tokenizers, side by side in one process, single thread.
 * Usage: npm run bench:tokenizer [-- --data PATH] [--rounds N] [--write]
 * Prints the results; --write also replaces the `## Edge tokenizer` section of docs/BENCHMARKS.md.
 */
import { readFileSync } from "node:fs";
import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";
import { loadBertBaseUncasedVocabTxt } from "@intentql/tokenizer/bert-base-uncased";
import { makeHfJsTokenizer, readMassive } from "../test/unit/tokenizer/hf-js-oracle.ts";
import { describeMachine, writeSectionIfAsked } from "./benchmarks-doc.ts";

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const at = argv.indexOf(`--${name}`);
  return at === -1 ? undefined : argv[at + 1];
};
const dataPath = flag("data");
const rounds = Number(flag("rounds") ?? 7);
const MAX_LENGTH = 128;

const texts = dataPath
  ? readFileSync(dataPath, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => {
        const row = JSON.parse(line) as { text?: string; utt?: string };
        return row.text ?? row.utt ?? "";
      })
  : readMassive("test").map((row) => row.text);

const vocab = parseVocabTxt(loadBertBaseUncasedVocabTxt());
const ours = new BertWordPieceTokenizer(vocab);
const uncached = new BertWordPieceTokenizer(vocab, { wordCacheSize: 0 });
const port = makeHfJsTokenizer(vocab);

const implementations = [
  { name: "edge BertWordPieceTokenizer", run: (text: string) => ours.encode(text, MAX_LENGTH).ids },
  { name: "@huggingface/tokenizers 0.2.0", run: (text: string) => port.encode(text, MAX_LENGTH) },
  // Shows how much of the lead is the word cache rather than the scanner.
  { name: "edge, word cache off", run: (text: string) => uncached.encode(text, MAX_LENGTH).ids },
];

// Same output first: a fast wrong tokenizer is worth nothing.
let differing = 0;
for (const text of texts) {
  if (implementations[0]!.run(text).join() !== implementations[1]!.run(text).join()) differing++;
}
if (differing > 0) {
  console.error(`ids differ on ${differing} of ${texts.length} texts; not timing`);
  process.exit(1);
}

let sink = 0;
function timeOnce(run: (text: string) => number[]): number {
  const start = process.hrtime.bigint();
  for (const text of texts) sink += run(text).length;
  return Number(process.hrtime.bigint() - start) / 1e9;
}

// Warm-up lets both JITs settle (and fills our word cache, as a long-running Worker's would be).
for (const impl of implementations) for (let i = 0; i < 3; i++) timeOnce(impl.run);
const samples = implementations.map(() => [] as number[]);
for (let round = 0; round < rounds; round++) {
  implementations.forEach((impl, k) => {
    samples[k]!.push(texts.length / timeOnce(impl.run));
  });
}
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const medians = samples.map(median);
const ratio = medians[0]! / medians[1]!;

const table = [
  "| implementation | texts/s (median) | min | max |",
  "| --- | ---: | ---: | ---: |",
  ...implementations.map((impl, k) => {
    const s = samples[k]!;
    const fmt = (v: number) => Math.round(v).toLocaleString("en-US");
    return `| ${impl.name} | ${fmt(medians[k]!)} | ${fmt(Math.min(...s))} | ${fmt(Math.max(...s))} |`;
  }),
  "",
  `**Ratio: ${ratio.toFixed(2)}×** (edge / @huggingface/tokenizers, medians).`,
].join("\n");
console.log(
  `(${texts.length} texts, ${rounds} interleaved rounds, ids identical on all texts; sink ${sink})`,
);

const section = [
  "## Edge tokenizer",
  "",
  "Command: `npm run bench:tokenizer -- --write` (`node --import tsx bench/tokenizer.bench.ts --write`; `--data FILE` for other JSONL).",
  "",
  `Setup: ${texts.length} MASSIVE en-US test texts (\`data/massive-en/test.jsonl\`), bert-base-uncased vocab,`,
  `maxLength ${MAX_LENGTH}, one process, single thread, both tokenizers warmed up, then ${rounds} interleaved rounds;`,
  "ids were checked equal on every text before timing.",
  `Machine: ${describeMachine()}, Node ${process.version}, measured ${new Date().toISOString().slice(0, 10)}.`,
  "",
  table,
].join("\n");
console.log(section);
writeSectionIfAsked(argv, "## Edge tokenizer", section);
