"""Splits MASSIVE test into the texts that hold a word train+validation never had and the rest, so
that `intentql predict` scores each part (docs/MODEL.md, "Open-vocabulary word vectors"). A word is
a lowercased run of letters, digits and apostrophes split on whitespace, as people read it.

    python training/unseen_words.py --train data/massive-en/train.jsonl --train data/massive-en/validation.jsonl \\
        --data data/massive-en/test.jsonl --out OUTDIR
        # → OUTDIR/unseen.jsonl and OUTDIR/seen.jsonl ({"text", "label_text"} per utterance), then
        #   npx intentql predict --bundle models/massive-scratch --data OUTDIR/unseen.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.data import load_jsonl  # noqa: E402


def words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", action="append", required=True, help="JSONL whose words count as seen (repeatable)")
    ap.add_argument("--data", required=True, help="the JSONL to split")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    known = {w for f in args.train for r in load_jsonl(f) for w in words(r.text)}
    parts: dict[str, list[str]] = {"unseen": [], "seen": []}
    for r in load_jsonl(args.data):
        part = "unseen" if any(w not in known for w in words(r.text)) else "seen"
        parts[part].append(json.dumps({"text": r.text, "label_text": r.intent}) + "\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in parts.items():
        (out / f"{name}.jsonl").write_text("".join(rows), encoding="utf-8")
    print(json.dumps({name: len(rows) for name, rows in parts.items()}))


if __name__ == "__main__":
    main()
