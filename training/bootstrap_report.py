"""How precise a test figure is: a bootstrap over the texts of an `intentql predict --report` file.
The report's confusion matrix (confusion[gold][predicted]) holds every (gold, predicted) pair, so
resampling the texts with replacement is resampling its cells. Prints accuracy and F1-macro (the
same definitions as eval-metrics and intentql_training.metrics) with their bootstrap standard
errors and 95 % intervals, the intents with the fewest texts, and, with --target, how often a
resample reaches it.

    npx intentql predict --bundle models/massive-scratch --data data/massive-en/test.jsonl --report r.json
    python training/bootstrap_report.py r.json --target 0.8779,0.8628 [--resamples 2000] [--out b.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def f1_macro_from_confusion(c: np.ndarray) -> float:
    """Mean F1 over the labels that occur in gold or predictions (sklearn's default label set)."""
    tp = np.diag(c).astype(np.float64)
    fp = c.sum(0) - tp
    fn = c.sum(1) - tp
    seen = (tp + fp + fn) > 0
    return float(np.mean(2 * tp[seen] / (2 * tp[seen] + fp[seen] + fn[seen])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", help="an intentql predict --report JSON file")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--target", help="ACCURACY,F1 (fractions): how often a resample reaches both, and each")
    ap.add_argument("--out", help="also write the figures as JSON here")
    args = ap.parse_args()
    report = json.loads(Path(args.report).read_text())
    confusion = np.asarray(report["confusion"], dtype=np.int64)
    labels = [row["label"] for row in report["perLabel"]]
    cells = confusion.ravel()
    n, k = int(cells.sum()), confusion.shape[0]
    rng = np.random.default_rng(args.seed)
    acc, f1 = np.empty(args.resamples), np.empty(args.resamples)
    for i in range(args.resamples):
        c = rng.multinomial(n, cells / n).reshape(k, k)
        acc[i], f1[i] = np.trace(c) / n, f1_macro_from_confusion(c)
    point = {"accuracy": float(np.trace(confusion) / n), "f1Macro": f1_macro_from_confusion(confusion)}
    out = {"n": n, "resamples": args.resamples, "seed": args.seed}
    for name, values in (("accuracy", acc), ("f1Macro", f1)):
        lo, hi = np.percentile(values, [2.5, 97.5])
        out[name] = {"value": point[name], "standardError": float(values.std(ddof=1)), "interval95": [float(lo), float(hi)]}
        print(f"{name}: {point[name]:.4f} ± {out[name]['standardError']:.4f} (95 %: {lo:.4f}-{hi:.4f})")
    support = confusion.sum(1)
    fewest = np.argsort(support, kind="stable")[:8]
    out["fewestTexts"] = [{"label": labels[i], "texts": int(support[i])} for i in fewest]
    print("intents with the fewest texts: " + ", ".join(f"{labels[i]} {support[i]}" for i in fewest))
    if args.target:
        ta, tf = (float(x) for x in args.target.split(","))
        out["target"] = {"accuracy": ta, "f1Macro": tf, "shareReachingAccuracy": float((acc >= ta).mean()),
                         "shareReachingF1": float((f1 >= tf).mean()),
                         "shareReachingBoth": float(((acc >= ta) & (f1 >= tf)).mean())}
        print(f"resamples reaching the target: accuracy {out['target']['shareReachingAccuracy']:.1%}, "
              f"F1 {out['target']['shareReachingF1']:.1%}, both {out['target']['shareReachingBoth']:.1%}")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
