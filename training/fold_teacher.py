"""Distillation from fold teachers: every training text is labelled, as a soft target, by models
that never saw it (the out-of-fold mean of a few strong members), instead of by members trained on
it. The 1.3.0 candidate's teacher was of the second kind, and its students gained nothing on
validation (docs/MODEL.md): on its own training texts a member's probabilities are close to the
one-hot labels, so they carry little that the labels do not.

    python training/fold_teacher.py study --data DIR --vocab VOCAB --word-vectors WV --out WORK --parallel 18
        # 1. the teachers (TEACHERS) on K folds of train alone, and the baseline students
        #    (setting_study.SHAPES) on train;
        # 2. the teachers' out-of-fold mean over train → WORK/teacher.npz;
        # 3. the same students distilled from it (`distill` 0.6, two shapes also 0.9), on train;
        # 4. setting_study.compare: validation accuracy / F1 of every student and of the fixed
        #    mixes, baseline against distilled → WORK/study.json, and WORK/selection.json (for
        #    `train.py --stage final`) only for a distilled mix that beat its baseline.
    python training/fold_teacher.py teacher --data DIR --folds A/folds.npz:conv256-s1,n48-b4k-s1 \\
        --folds B/folds.npz:t192x3-ema-s1 --out teacher.npz
        # the same kind of teacher over train+validation, from fold sweeps' folds.npz (train.py
        # --select-on folds; the same K folds): `train.py --stage final --teacher teacher.npz`.

The study is clean on validation: its teachers never saw validation (folds over train only), and
its students train on train. The final stage's teacher is the out-of-fold mean over
train+validation; its calibration fold copies learn from that teacher too, whose labels for a
fold's training rows come from models that saw the held-out fold: the out-of-fold figures of a
distilled final stage are therefore a little optimistic, and test is the figure to read.

A typed variant of a text gets the teacher's probabilities for the text as written (the fold fits
predict held-out texts as written only).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.data import label_table, load_splits  # noqa: E402
from intentql_training.metrics import summary  # noqa: E402
from setting_study import SHAPES, add_common_args, compare, variant_specs  # noqa: E402
from train import (  # noqa: E402
    CONV256, EMA, KD, KD9, NG, T192, TYPED_VARIANTS, FoldOutputs, assemble_out_of_fold, fold_fits, log, out_of_fold,
    prepare, run_members_fits, smoke, train_val_labels)

# The teachers: the best conv member, the n-gram member and the transformer that the fold sweeps
# measured out of fold (docs/MODEL.md: conv256 87.19, n48 85.30-85.46, t192x3-ema 85.56-85.76), one
# of each kind so that their errors differ.
TEACHERS = [
    ("conv256-s1", "conv", CONV256, 1),
    ("n48-b4k-s1", "ngram", NG[48], 1),
    ("t192x3-ema-s1", "transformer", {**T192, **EMA}, 1),
]
# The students: setting_study.SHAPES, each without a teacher (baseline) and distilled (`-fkd`,
# train.KD, weight 0.6); two of them also with weight 0.9 (`-fkd9`, train.KD9).
STRONG_TEACHING = ["t192x3-ema-s1", "n64-b4k-ema-s1"]


def write_teacher_file(path: Path, probs: np.ndarray, gold_all: np.ndarray) -> None:
    """teacher.npz as member.load_teacher reads it: [1 + typed variants, rows, labels], every view
    the text as written, with the rows' labels."""
    views = np.repeat(probs[None].astype(np.float16), 1 + TYPED_VARIANTS, axis=0)
    np.savez(path, probs=views, y=gold_all)


def study(args) -> None:
    work, splits, labels, data, log_prior = prepare(args)
    num_labels, K = len(labels), args.folds_k
    gold_all = train_val_labels(data)
    n_train = len(data["train"]["y"])
    gold_val = gold_all[n_train:]
    teachers = smoke(args, [(f"teacher-{n}", k, c, s) for n, k, c, s in TEACHERS])
    baseline = smoke(args, SHAPES)
    distilled = {"fkd": smoke(args, variant_specs(SHAPES, KD, "fkd")),
                 "fkd9": smoke(args, variant_specs([s for s in SHAPES if s[0] in STRONG_TEACHING], KD9, "fkd9"))}
    log(f"round 1: {len(teachers)} teachers × {K} folds of train, and {len(baseline)} baseline students on train")
    deadline = time.time() + args.member_timeout  # both rounds share it
    run_members_fits(work, fold_fits(teachers, K, over="trainfold") + [(*s, "train") for s in baseline], args.parallel,
                     args.member_timeout)

    oof, teacher_report = [], {}
    for name, *_ in teachers:
        p = out_of_fold(work, name, K, len(gold_all), num_labels, over="trainfold")
        if p is None:
            raise SystemExit(f"{name}: not every fold finished")
        p = p[:n_train]
        oof.append(p)
        # its K fold models, averaged, on validation
        val = np.mean([np.load(work / "members" / f"{name}-trainfold{f}" / "outputs.npz")["validation"] for f in range(K)], 0)
        teacher_report[name] = {"outOfFoldTrain": summary(gold_all[:n_train], p.argmax(1), num_labels),
                                "validation": summary(gold_val, val.argmax(1), num_labels)}
        log(f"  {name}: {teacher_report[name]}")
    mean = np.mean(oof, 0)
    full = np.concatenate([mean, np.full((len(gold_val), num_labels), 1.0 / num_labels)])  # validation rows: never trained on
    write_teacher_file(work / "teacher.npz", full, gold_all)
    teacher_report["mean"] = {"outOfFoldTrain": summary(gold_all[:n_train], mean.argmax(1), num_labels)}
    log(f"teacher (out-of-fold mean over train): {teacher_report['mean']}")

    students = [s for specs in distilled.values() for s in specs]
    log(f"round 2: {len(students)} distilled students on train")
    run_members_fits(work, [(*s, "train") for s in students], args.parallel, max(1, int(deadline - time.time())))
    compare(work, data, labels, log_prior, baseline, distilled, {"folds": K, "teachers": teacher_report})


def teacher(args) -> None:
    splits = load_splits(args.data)
    names = [label["name"] for label in label_table([r.intent for r in splits.train])]
    index = {n: i for i, n in enumerate(names)}
    gold_all = np.asarray([index[r.intent] for r in splits.train + splits.validation])
    oof = []
    for spec in args.folds:
        path, members = spec.rsplit(":", 1)
        folds = FoldOutputs(Path(path))
        for name in members.split(","):
            p = assemble_out_of_fold([folds.fold(name, f) for f in range(args.folds_k)], len(gold_all), len(names))
            if np.isnan(p).any():
                raise SystemExit(f"{spec}: {name}'s folds do not cover every row")
            print(f"{name}: out of fold {summary(gold_all, p.argmax(1), len(names))}")
            oof.append(p)
    mean = np.mean(oof, 0)
    print(f"teacher (mean of {len(oof)}): out of fold {summary(gold_all, mean.argmax(1), len(names))}")
    write_teacher_file(Path(args.out), mean, gold_all)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    add_common_args(sub.add_parser("study", help="teachers on folds of train, students with and without them"))
    make = sub.add_parser("teacher", help="teacher.npz over train+validation from fold sweeps' folds.npz")
    make.add_argument("--data", required=True, help="folder with train/validation/test.jsonl")
    make.add_argument("--out", required=True, help="the teacher.npz to write")
    make.add_argument("--folds", action="append", default=[], required=True,
                      help="FOLDS_NPZ:NAME,NAME… (a fold sweep's folds.npz and the candidates to average)")
    for parser in sub.choices.values():
        parser.add_argument("--folds-k", type=int, default=4, help="folds (the fold sweeps' K)")
    args = ap.parse_args()
    study(args) if args.command == "study" else teacher(args)


if __name__ == "__main__":
    main()
