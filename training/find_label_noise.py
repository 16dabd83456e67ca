"""Train texts whose label the models disagree with: candidates for label noise, in the manner of
confident learning (Northcutt et al., 2021). A few members are trained on K folds of train alone
(fit `trainfold:k/K`: validation is never seen, so a study that leaves these rows out is still judged
cleanly on validation); a row is flagged when the mean of their out-of-fold probabilities gives its
own label less than --max-own and another label more than --min-other.

    python training/find_label_noise.py --data DIR --vocab VOCAB --out WORK --drop drop.json [--parallel 2]
        # → drop.json (row indices into train, for member setting `drop`) and WORK/label-noise.json
        #   (the flagged rows with their texts, labels and the models' label, counts per intent)

The n-gram members train on a CPU in about a minute a fit, so this needs no GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.metrics import summary  # noqa: E402
from train import EMA, N64, NG, fold_fits, log, out_of_fold, prepare, run_members_fits, train_val_labels  # noqa: E402

JUDGES = [
    ("judge-n48-b4k-s1", "ngram", NG[48], 1),
    ("judge-n64-b4k-ema-s1", "ngram", {**N64, **EMA}, 1),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--vocab-size", type=int, default=6000)
    ap.add_argument("--word-vectors")
    ap.add_argument("--out", required=True, help="work folder")
    ap.add_argument("--drop", required=True, help="where to write the flagged train rows (JSON list)")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--max-own", type=float, default=0.05)
    ap.add_argument("--min-other", type=float, default=0.7)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--member-timeout", type=int, default=3600)
    args = ap.parse_args()
    work, splits, labels, data, _ = prepare(args)
    K, num_labels = args.folds, len(labels)
    run_members_fits(work, fold_fits(JUDGES, K, over="trainfold"), args.parallel, args.member_timeout)
    gold = train_val_labels(data)
    n_train = len(data["train"]["y"])
    probs = []
    for name, *_ in JUDGES:
        p = out_of_fold(work, name, K, len(gold), num_labels, over="trainfold")
        if p is None:
            raise SystemExit(f"{name}: not every fold finished")
        p = p[:n_train]
        log(f"{name}: out of fold over train {summary(gold[:n_train], p.argmax(1), num_labels)}")
        probs.append(p)
    mean = np.mean(probs, 0)
    y = gold[:n_train]
    own = mean[np.arange(n_train), y]
    other = mean.copy()
    other[np.arange(n_train), y] = 0
    flagged = np.flatnonzero((own < args.max_own) & (other.max(1) > args.min_other))
    names = [label["name"] for label in labels]
    rows = [{"row": int(i), "text": splits.train[i].text, "label": names[y[i]],
             "models": names[int(other[i].argmax())], "ownProbability": round(float(own[i]), 4),
             "otherProbability": round(float(other[i].max()), 4)} for i in flagged]
    Path(args.drop).write_text(json.dumps([int(i) for i in flagged]) + "\n")
    report = {"trainRows": n_train, "flagged": len(flagged), "maxOwn": args.max_own, "minOther": args.min_other,
              "judges": [j[0] for j in JUDGES], "folds": K,
              "byLabel": dict(Counter(r["label"] for r in rows).most_common()), "rows": rows}
    (work / "label-noise.json").write_text(json.dumps(report, indent=1) + "\n")
    log(f"flagged {len(flagged)} of {n_train} train rows ({len(flagged) / n_train:.1%}) → {args.drop}")


if __name__ == "__main__":
    main()
