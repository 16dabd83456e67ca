"""The linear member out of fold (docs/MODEL.md, "A linear member"): each setting's 4 fold fits
(member kind `linear`, the same folds as every study), mixed with saved fold fits of neural members,
and the gain over their own mix with a paired bootstrap over the texts. Runs on a CPU: a fold fit
takes about a minute on 2 cores.

    python training/linear_study.py --data DIR --vocab models/massive-scratch/vocab.txt \\
        --neural training/logs/linear-member-2026-11-28/neural-oof.npz \\
        --setting recipe='{}' --setting typed='{"noise_rows": 0}' \\
        --setting plain='{"noise_rows": 0, "typed_aug": 0.0}' \\
        --replace n32-b4k --out training/logs/linear-member-2026-11-28/study.json

`--neural` holds out-of-fold probabilities over train+validation (train first) per member name,
`gold` and `nTrain` (fold_study.py's files, session 12's here). The baseline mixes all of them;
each setting's mix swaps the `--replace` member for the linear one, and, for comparison, adds it to
all of them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.ensemble import combine  # noqa: E402
from intentql_training.metrics import paired_gain, summary  # noqa: E402
from train import assemble_out_of_fold, prepare  # noqa: E402

FOLDS = 4


def fold_fits(work: Path, name: str, config: dict) -> tuple[np.ndarray, float]:
    """The setting's out-of-fold probabilities, and its mean top probability on held-out synthetic
    gibberish (its folds' mean); a fold whose done.json exists is not fit again."""
    for k in range(FOLDS):
        if not (work / "members" / f"{name}-fold{k}" / "done.json").exists():
            subprocess.run([sys.executable, "-m", "intentql_training.member", "--workdir", str(work),
                            "--name", f"{name}-fold{k}", "--kind", "linear", "--config", json.dumps(config),
                            "--fit", f"fold:{k}/{FOLDS}"], check=True, cwd=Path(__file__).resolve().parent)
    outs = [np.load(work / "members" / f"{name}-fold{k}" / "outputs.npz") for k in range(FOLDS)]
    rows = sum(len(o["heldout_index"]) for o in outs)
    noise_top = float(np.mean([o["noise_validation"].max(1).mean() for o in outs]))
    return assemble_out_of_fold(outs, rows, outs[0]["heldout"].shape[1]), noise_top


def points(gold: np.ndarray, pred: np.ndarray, labels: int) -> dict:
    s = summary(gold, pred, labels)
    return {"accuracy": round(100 * s["accuracy"], 2), "f1Macro": round(100 * s["f1Macro"], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder with train/validation/test.jsonl")
    ap.add_argument("--vocab", required=True, help="the vocab the neural fits used")
    ap.add_argument("--neural", required=True, help="npz: out-of-fold probabilities per member, gold, nTrain")
    ap.add_argument("--setting", action="append", required=True, help="NAME=JSON member settings")
    ap.add_argument("--replace", default="", help="the neural member each setting's mix leaves out")
    ap.add_argument("--tau", type=float, default=0.1, help="logit adjustment of every mix (1.1.0's)")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--work", default="/tmp/intentql-linear-study")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    work = Path(args.work)
    if not (work / "encoded.pt").exists():
        prepare(argparse.Namespace(out=str(work), data=args.data, vocab=args.vocab, word_vectors=None,
                                   neighbours=None, vocab_size=0))
    neural = np.load(args.neural)
    gold, n_train = neural["gold"], int(neural["nTrain"])
    names = [k for k in neural.files if k not in ("gold", "nTrain")]
    probs = {n: neural[n].astype(np.float64) for n in names}
    labels = probs[names[0]].shape[1]
    log_prior = np.log(np.bincount(gold[:n_train], minlength=labels) / n_train)

    def mix(members: list[np.ndarray]) -> np.ndarray:
        return combine(members, [1.0] * len(members), log_prior, args.tau).argmax(1)

    base = mix([probs[n] for n in names])
    kept = [n for n in names if n != args.replace]
    report = {"tau": args.tau, "resamples": args.resamples, "baseline": {"members": names, **points(gold, base, labels)},
              "settings": {}}
    for spec in args.setting:
        name, _, config = spec.partition("=")
        lin, noise_top = fold_fits(work, f"lin-{name}", json.loads(config))
        row = {"config": json.loads(config), "alone": points(gold, lin.argmax(1), labels),
               "gibberishMeanTop": round(noise_top, 3)}
        for label, members in ((f"without {args.replace}", kept), ("added", names)):
            pred = mix([probs[n] for n in members] + [lin])
            row[label] = {**points(gold, pred, labels), "gain": paired_gain(gold, base, pred, labels, args.resamples)}
        report["settings"][name] = row
        print(name, json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
