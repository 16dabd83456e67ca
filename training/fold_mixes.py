"""Which mixes of a fold sweep's candidates score best out of fold, at each parameter budget, and
how much the prior correction τ moves them. Every mix of 1..--max-members distinct candidates is
scored (equal weights, as the sweep's selection weighs them) on the out-of-fold predictions over all
train+validation texts; for each budget the best by accuracy + F1-macro is printed, then a τ sweep of
the best mixes, of the sweep's chosen one and of any --mix.

    python training/fold_mixes.py --folds folds.npz --selection selection.json --data .device/issue14/data \
        [--mix n64-b4k-ema-s1,t192x3-ema-s1,n32-b4k-s1]

`--folds` and `--selection` are what `train.py --stage sweep --select-on folds` writes (device_run.sh
returns folds.npz in parts and selection.json in results.tgz); `--data` holds the train and validation
files the sweep trained on (their labels, in the fits' row order: train, then validation). `--extra`
adds candidates that `fold_study.py` trained on the same folds (same K; the fold split does not
depend on the vocab), so a new kind of member can be judged by what it adds to the mix.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.data import label_table, load_splits  # noqa: E402
from intentql_training.ensemble import combine  # noqa: E402
from intentql_training.metrics import summary  # noqa: E402
from train import FoldOutputs, assemble_out_of_fold, out_of_fold  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", required=True, help="folds.npz from the fold sweep")
    ap.add_argument("--selection", required=True, help="selection.json from the same sweep")
    ap.add_argument("--data", required=True, help="the sweep's data folder (train.jsonl, validation.jsonl)")
    ap.add_argument("--max-members", type=int, default=5)
    ap.add_argument("--budgets", default="3.0,3.33,3.6,4.0,4.5,5,6,9", help="millions of parameters")
    ap.add_argument("--mix", action="append", default=[], help="also τ-sweep this mix (names, comma-separated)")
    ap.add_argument("--extra", action="append", default=[],
                    help="WORK:NAME, a candidate trained on the same folds by fold_study.py in WORK")
    ap.add_argument("--out", help="also write the table as JSON here")
    args = ap.parse_args()

    selection = json.loads(Path(args.selection).read_text())
    sweep, log_prior = selection["sweep"], np.asarray(selection["logPrior"])
    splits = load_splits(args.data)
    names = [label["name"] for label in label_table([r.intent for r in splits.train])]
    index = {n: i for i, n in enumerate(names)}
    gold = np.asarray([index[r.intent] for r in splits.train + splits.validation])
    folds = FoldOutputs(Path(args.folds))
    K = selection.get("folds", 4)
    probs = {n: assemble_out_of_fold([folds.fold(n, f) for f in range(K)], len(gold), len(names)) for n in sweep}
    params = {n: sweep[n]["params"] for n in sweep}
    for name, p in probs.items():
        if np.isnan(p).any():
            raise SystemExit(f"{name}: its folds do not cover every row")
    for spec in args.extra:
        work, name = spec.rsplit(":", 1)
        extra = out_of_fold(Path(work), name, K, len(gold), len(names))
        if extra is None:
            raise SystemExit(f"{spec}: not every fold finished")
        probs[name] = extra
        params[name] = json.loads((Path(work) / "members" / f"{name}-fold0" / "done.json").read_text())["params"]

    def score(mix: tuple[str, ...], tau: float = 0.0) -> dict:
        logp = combine([probs[n] for n in mix], [1.0] * len(mix), log_prior, 0.0)
        return summary(gold, (logp - tau * log_prior).argmax(1), len(names))

    scored = []
    for size in range(1, args.max_members + 1):
        for mix in itertools.combinations(sorted(probs), size):
            s = score(mix)
            scored.append({"members": list(mix), "params": sum(params[n] for n in mix),
                           "accuracy": s["accuracy"], "f1Macro": s["f1Macro"]})
    report = {"mixesScored": len(scored), "candidates": [m for m in scored if len(m["members"]) == 1],
              "bestPerBudget": [], "tau": []}
    for m in report["candidates"]:
        print(f"{m['members'][0]:22s} {m['params'] / 1e6:.2f} M params: accuracy {m['accuracy']:.2%} F1 {m['f1Macro']:.2%}")
    for budget in (float(b) * 1e6 for b in args.budgets.split(",")):
        best = max((m for m in scored if m["params"] <= budget), key=lambda m: m["accuracy"] + m["f1Macro"], default=None)
        if best:
            report["bestPerBudget"].append({"maxParams": int(budget), **best})
            print(f"≤ {budget / 1e6:.2f} M params: {best['params'] / 1e6:.2f} M, accuracy {best['accuracy']:.2%} "
                  f"F1 {best['f1Macro']:.2%} {best['members']}")
    mixes = [tuple(b["members"]) for b in report["bestPerBudget"]] + [tuple(m["name"] for m in selection["members"])]
    mixes += [tuple(m.split(",")) for m in args.mix]
    for mix in dict.fromkeys(mixes):  # each once, in order
        row = {"members": list(mix), "byTau": {}}
        for tau in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5):
            s = score(mix, tau)
            row["byTau"][str(tau)] = [round(s["accuracy"], 4), round(s["f1Macro"], 4)]
        report["tau"].append(row)
        print(f"τ sweep {list(mix)}: " + ", ".join(f"{t}: {a:.2%} / {f:.2%}" for t, (a, f) in row["byTau"].items()))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
