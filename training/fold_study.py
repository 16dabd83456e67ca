"""Compares member settings by their out-of-fold accuracy and F1-macro over train+validation
(13,547 texts; validation alone has 2,033), each setting trained on the K calibration folds. The
n-gram members train in ~40 s a fit on one CPU core, so studies of them need no GPU.

    python training/fold_study.py --data DIR --vocab VOCAB --word-vectors WV --out WORK --parallel 2 \\
        --member 'n32:ngram:{"hidden":32,"ngram_buckets":4096,"char_buckets":4096}' --member ...

Each --member is NAME:KIND:JSON (settings over member.DEFAULTS and member.COMMON) with an optional
:SEED at the end (default 1). Prints one JSON line per member and one for the mean of all of them;
fits already done in WORK with the same data and settings are kept (train.py fit fingerprints).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.metrics import summary  # noqa: E402
from train import fold_fits, out_of_fold, prepare, run_members_fits, train_val_labels  # noqa: E402


def parse_member(spec: str) -> tuple:
    name, kind, rest = spec.split(":", 2)
    seed = 1
    if not rest.endswith("}"):
        rest, seed_text = rest.rsplit(":", 1)
        seed = int(seed_text)
    return name, kind, json.loads(rest), seed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--vocab", required=True, help="the vocab the members use (a sweep's vocab.txt)")
    ap.add_argument("--word-vectors")
    ap.add_argument("--neighbours", help="the neighbour table (train.py --neighbours), for members with swap_aug")
    ap.add_argument("--out", required=True, help="work folder")
    ap.add_argument("--member", action="append", required=True, help="NAME:KIND:JSON[:SEED]")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--member-timeout", type=int, default=3600)
    ap.add_argument("--save", help="write every member's out-of-fold probabilities here (.npz, float16), with the labels")
    args = ap.parse_args()
    args.vocab_size = 0  # unused with --vocab

    work, _, labels, data, _ = prepare(args)
    members = [parse_member(m) for m in args.member]
    run_members_fits(work, fold_fits(members, args.folds), args.parallel, args.member_timeout)
    gold = train_val_labels(data)
    n_train, num_labels = len(data["train"]["y"]), len(labels)
    found = {}
    for name, kind, cfg, seed in members:
        probs = out_of_fold(work, name, args.folds, len(gold), num_labels)
        if probs is None:
            print(json.dumps({"member": name, "error": "not every fold finished"}))
            continue
        found[name] = probs
        print(json.dumps({"member": name, "kind": kind, "config": cfg, "seed": seed,
                          "outOfFold": summary(gold, probs.argmax(1), num_labels),
                          "validationPart": summary(gold[n_train:], probs[n_train:].argmax(1), num_labels)}))
    if args.save:
        np.savez_compressed(args.save, gold=gold, nTrain=n_train, **{n: p.astype(np.float16) for n, p in found.items()})
    if len(found) > 1:
        mean = np.mean(list(found.values()), 0)
        print(json.dumps({"member": "mean of all", "members": list(found),
                          "outOfFold": summary(gold, mean.argmax(1), num_labels)}))


if __name__ == "__main__":
    main()
