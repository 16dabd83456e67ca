"""Compares member settings by their out-of-fold accuracy and F1-macro over train+validation
(13,547 texts; validation alone has 2,033), each setting trained on the K calibration folds. The
n-gram members train in ~40 s a fit on one CPU core, so studies of them need no GPU.

    python training/fold_study.py --data DIR --vocab VOCAB --word-vectors WV --out WORK --parallel 2 \\
        --member 'n32:ngram:{"hidden":32,"ngram_buckets":4096,"char_buckets":4096}' --member ...

Each --member is NAME:KIND:JSON (settings over member.DEFAULTS and member.COMMON) with an optional
:SEED at the end (default 1). Prints one JSON line per member and one for the mean of all of them;
fits already done in WORK with the same data and settings are kept (train.py fit fingerprints).
`--save F.npz` keeps every member's out-of-fold probabilities; `--mix A,B,C` scores the mean of
those members (weights 1, ensemble.combine with the prior correction `--tau`, as the bundle does),
also without the intents of under 10 texts (`f1MacroWithoutSmall`), and `--bootstrap N` adds each
mix's paired gain over the first with 95 % intervals.
`--read F.npz` (repeatable) scores mixes from saved files instead of training, with no GPU; a member
in more than one file must be the same in each (a check that the fits reproduced):

    python training/fold_study.py --read A.npz --read B.npz --mix t192x3-ema,n64-b4k-ema,n32-b4k --mix …
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.ensemble import combine, log_prior_of  # noqa: E402
from intentql_training.data import label_table, load_splits  # noqa: E402
from intentql_training.metrics import f1_macro, f1_per_label, paired_gain, summary  # noqa: E402
from train import fold_fits, out_of_fold, prepare, run_members_fits, train_val_labels  # noqa: E402


def parse_member(spec: str) -> tuple:
    name, kind, rest = spec.split(":", 2)
    seed = 1
    if not rest.endswith("}"):
        rest, seed_text = rest.rsplit(":", 1)
        seed = int(seed_text)
    return name, kind, json.loads(rest), seed


# intents by their texts in train+validation: where a change in F1-macro comes from
SIZE_BANDS = [("under 60", 0, 60), ("60-149", 60, 150), ("150 and more", 150, 1 << 30)]
# Intents with fewer texts than this in train+validation are also left out of a second F1-macro
# (`f1MacroWithoutSmall`): cooking_query has 6, and its F1 going from 0.5 to 0 moved a mix's
# F1-macro by 0.83 points, more than the seed spread (docs/MODEL.md, "Adversarial training on the
# token tables"); MASSIVE test has no cooking_query text at all.
SMALL_INTENT = 10


def f1_change(gold: np.ndarray, before: np.ndarray, after: np.ndarray, num_labels: int,
              names: list[str]) -> dict:
    """How `after` moves F1-macro from `before` (points), split by intent size, and the three
    intents that lost most."""
    b, a = f1_per_label(gold, before, num_labels), f1_per_label(gold, after, num_labels)
    counted = int((~np.isnan(b)).sum())  # F1-macro's denominator: both count the same intents here
    delta = np.nan_to_num(a) - np.nan_to_num(b)
    size = np.bincount(gold, minlength=num_labels)
    bands = {band: round(100 * float(delta[(size >= lo) & (size < hi)].sum()) / counted, 2) for band, lo, hi in SIZE_BANDS}
    worst = [{"intent": names[c], "texts": int(size[c]), "f1": [round(float(b[c]), 3), round(float(a[c]), 3)]}
             for c in np.argsort(delta, kind="stable")[:3]]
    return {"byIntentSize": bands, "largestLosses": worst}


def print_mixes(found: dict, gold: np.ndarray, n_train: int, num_labels: int, mixes: list[str], tau: float,
                names: list[str], resamples: int = 0) -> None:
    """Each mix out of fold; every mix after the first also with its F1 change against the first,
    and with `resamples` > 0 its paired bootstrap gain over the first."""
    log_prior = log_prior_of(gold[:n_train], num_labels)
    small = np.bincount(gold, minlength=num_labels) < SMALL_INTENT
    first = None
    for mix in mixes:
        members = mix.split(",")
        missing = [n for n in members if n not in found]
        if missing:
            print(json.dumps({"mix": members, "error": f"no out-of-fold probabilities for {missing}"}))
            continue
        pred = combine([found[n].astype(np.float32) for n in members], [1.0] * len(members), log_prior, tau).argmax(1)
        row = {"mix": members, "tau": tau, "outOfFold": summary(gold, pred, num_labels),
               "f1MacroWithoutSmall": {"leftOut": [names[c] for c in np.flatnonzero(small)],
                                       "f1Macro": f1_macro(gold, pred, num_labels, small)},
               "validationPart": summary(gold[n_train:], pred[n_train:], num_labels)}
        if first is None:
            first = pred
        else:
            row["f1ChangeAgainstFirstMix"] = f1_change(gold, first, pred, num_labels, names)
            if resamples:
                row["pairedGainOverFirstMix"] = paired_gain(gold, first, pred, num_labels, resamples, small)
        print(json.dumps(row))


def read_saved(paths: list[str]) -> tuple[dict, np.ndarray, int]:
    found, gold, n_train = {}, None, None
    for path in paths:
        saved = np.load(path)
        if gold is None:
            gold, n_train = saved["gold"], int(saved["nTrain"])
        elif not np.array_equal(gold, saved["gold"]) or n_train != int(saved["nTrain"]):
            raise SystemExit(f"{path}: other texts or labels than {paths[0]}")
        for name in saved.files:
            if name in ("gold", "nTrain"):
                continue
            if name in found and not np.array_equal(found[name], saved[name]):
                raise SystemExit(f"{path}: member {name} differs from an earlier file's (its fits did not reproduce)")
            found[name] = saved[name]
    print(json.dumps({"read": [Path(p).name for p in paths], "members": sorted(found)}))
    return found, gold, n_train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--read", action="append", default=[], help="score --mix from saved files (--save), no training")
    ap.add_argument("--mix", action="append", default=[], help="NAME,NAME,…: a mix of members to score out of fold")
    ap.add_argument("--tau", type=float, default=0.1, help="the mixes' prior correction (1.1.0's τ)")
    ap.add_argument("--bootstrap", type=int, default=0,
                    help="resamples of a paired bootstrap of each mix's gain over the first (0: none)")
    ap.add_argument("--num-labels", type=int, default=60, help="with --read and no --data: the label count")
    ap.add_argument("--data", help="folder with train/validation/test.jsonl (with --read: only for intent names)")
    ap.add_argument("--vocab", help="the vocab the members use (a sweep's vocab.txt)")
    ap.add_argument("--word-vectors")
    ap.add_argument("--neighbours", help="the neighbour table (train.py --neighbours), for members with swap_aug")
    ap.add_argument("--out", help="work folder")
    ap.add_argument("--member", action="append", default=[], help="NAME:KIND:JSON[:SEED]")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--member-timeout", type=int, default=3600)
    ap.add_argument("--save", help="write every member's out-of-fold probabilities here (.npz, float16), with the labels")
    args = ap.parse_args()
    if args.read:
        found, gold, n_train = read_saved(args.read)
        names = [l["name"] for l in label_table([r.intent for r in load_splits(args.data).train])] if args.data \
            else [str(c) for c in range(args.num_labels)]
        print_mixes(found, gold, n_train, len(names), args.mix, args.tau, names, args.bootstrap)
        return
    if not (args.data and args.vocab and args.out and args.member):
        ap.error("training needs --data, --vocab, --out and at least one --member (or --read saved files)")
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
    print_mixes(found, gold, n_train, num_labels, args.mix, args.tau, [l["name"] for l in labels], args.bootstrap)


if __name__ == "__main__":
    main()
