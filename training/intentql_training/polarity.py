"""Word polarity (issue 14): what a sentiment lexicon knows about words, for members and swaps.

Measured out of fold (docs/MODEL.md, "Word polarity"): neither use passed its bar, and the members
did not learn to tell the two intents apart with it. Kept so that the study can be run again.

Why: out of fold (1.1.0's three shapes, 4 folds over train+validation), music_dislikeness has the
lowest F1 of all 60 intents, 0.42 on 16 texts, and 6 of them go to music_likeness: "i do not enjoy
this song", "that background song is terrible", "this song is not very good". A pretrained encoder
knows that "terrible" and "enjoy" point opposite ways; a member trained from scratch on 145 texts of
the two intents does not. The VADER lexicon does: summed over a text's words, with a word's sign
flipped when one of the three words before it negates ("not", "never", the "t" of "don't"), the
sign is negative for 14 of the 16 music_dislikeness texts and for 1 of the 129 music_likeness ones.

Two uses, each a member setting or a table option, so that both can be measured alone:
- `vectors` writes a file in open_vectors.py's format (word → three numbers: positive valence,
  negative valence, each ÷ 4, and 1 for a negator). A member with `open_vectors` set to it adds each
  word's mapped vector to its input (models.OpenWordVectors, found in the graph from word pieces).
  The tables of the full lexicon take 78,881 bytes, once per ONNX file (export keeps one copy for
  all members). The transformer can learn negation from it; the n-gram members only get the
  polarity words summed.
- neighbours.py `build --polarity`: a neighbour-word swap keeps a word's polarity. GloVe puts
  antonyms close: 3,193 of the first table's 28,472 neighbours have another VADER sign than their word
  ("accept" → "reject", "refuse"), which turns a training text into another one with the same label.

The lexicon: VADER (Hutto and Gilbert, 2014; MIT), as npm `vader-sentiment@1.1.3` ships it in
`vader_lexicon.txt` (token, mean valence in [−4, 4], sd, ten ratings). Only tokens of letters are
kept: a WordPiece word is lowercase letters, and emoticons never reach the model as one word.

    python -m intentql_training.polarity vectors --lexicon node_modules/vader-sentiment/vader_lexicon.txt \\
        --out DATA/polarity_vectors.txt
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

# Words that negate the polarity words after them. BERT's basic tokenizer splits "don't" into
# "don", "'", "t", so "t" stands for every n't; the stems ("don", "isn", …) are kept as well, for
# texts typed without the apostrophe's "t" ("dont" is its own word and listed too).
NEGATORS = frozenset(
    "not no never nothing nobody none nor neither without cannot t "
    "don dont doesn doesnt didn didnt isn isnt wasn wasnt aren arent weren werent "
    "couldn couldnt wouldn wouldnt shouldn shouldnt hasn hasnt haven havent hadn hadnt cant wont".split()
)
SCALE = 4.0  # VADER's valence range is [−4, 4]
WORD = re.compile(r"[a-z]+")


def load_lexicon(path: str | Path) -> dict[str, float]:
    """word → VADER mean valence, for the lexicon's tokens of letters only."""
    valence = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and WORD.fullmatch(parts[0]):
            valence[parts[0]] = float(parts[1])
    if not valence:
        raise ValueError(f"{path}: no word rows (expected VADER's token<TAB>valence<TAB>… lines)")
    return valence


def polarity_vectors(valence: dict[str, float]) -> dict[str, np.ndarray]:
    """word → [positive valence, negative valence, negator], the first two ÷ SCALE."""
    out = {}
    for word in sorted(set(valence) | NEGATORS):
        v = valence.get(word, 0.0)
        out[word] = np.asarray([(v if v > 0 else 0.0) / SCALE, (-v if v < 0 else 0.0) / SCALE, float(word in NEGATORS)],
                               dtype=np.float32)
    return out


def write_vectors(vectors: dict[str, np.ndarray], path: str | Path) -> None:
    Path(path).write_text("".join(f"{w} {' '.join(f'{x:.4f}' for x in v)}\n" for w, v in vectors.items()),
                          encoding="utf-8")


def read_signs(path: str | Path) -> dict[str, int]:
    """word → the sign of its valence (+1, −1; words with none are left out), from a `vectors` file."""
    signs = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        word, *numbers = line.split(" ")
        pos, neg = float(numbers[0]), float(numbers[1])
        if pos or neg:
            signs[word] = 1 if pos > neg else -1
    return signs


def same_polarity(a: str, b: str, signs: dict[str, int]) -> bool:
    """True when the two words have the same valence sign, words without one counting as 0."""
    return signs.get(a, 0) == signs.get(b, 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    vec = sub.add_parser("vectors", help="the polarity vectors file (open_vectors.py's format) from VADER's lexicon")
    vec.add_argument("--lexicon", required=True, help="vader_lexicon.txt (npm vader-sentiment@1.1.3)")
    vec.add_argument("--out", required=True)
    args = ap.parse_args()
    vectors = polarity_vectors(load_lexicon(args.lexicon))
    write_vectors(vectors, args.out)
    print(f"{len(vectors)} words ({len(NEGATORS)} negators) → {args.out}")


if __name__ == "__main__":
    main()
