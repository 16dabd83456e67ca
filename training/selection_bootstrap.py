"""How stable is ensemble selection on validation? Re-runs the sweep's greedy selection on bootstrap
resamples of the validation texts and reports how often each mix is chosen, and the spread of the
chosen mix's accuracy and F1-macro across resamples (a standard error of the figures selection
compares).

    python training/selection_bootstrap.py --probs validation-probs.npz --selection selection.json

`--probs` and `--selection` are what `train.py --stage sweep` writes (device_run.sh returns both in
results.tgz). Member bytes come from the selection's sweep table (one member's estimate each); the
char-n-gram table that n-gram members share is counted once, as ensemble.ensemble_bytes does.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.ensemble import ONNX_BASE_BYTES, combine, greedy_select  # noqa: E402
from intentql_training.metrics import accuracy, f1_macro  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--probs", required=True, help="validation-probs.npz from the sweep")
    ap.add_argument("--selection", required=True, help="selection.json from the same sweep")
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--max-selected", type=int, default=5)
    ap.add_argument("--char-table-bytes", type=int, default=3 * 192_064,
                    help="the shared int16 char-n-gram table in the three ONNX files")
    args = ap.parse_args()

    npz = np.load(args.probs)
    gold = npz["gold"]
    names = [k for k in npz.files if k != "gold"]
    probs = {n: npz[n].astype(np.float32) for n in names}
    selection = json.loads(Path(args.selection).read_text())
    sweep, budget = selection["sweep"], selection["bundleBytes"]["onnxBudget"]
    num_labels = len(selection["logPrior"])
    own = {n: sweep[n]["bytesEstimate"] - ONNX_BASE_BYTES for n in names}

    def cost(chosen: list[str]) -> int:
        ngrams = sum(1 for n in chosen if sweep[n]["kind"] == "ngram")
        return ONNX_BASE_BYTES + sum(own[n] for n in chosen) - max(0, ngrams - 1) * args.char_table_bytes

    full = greedy_select(names, probs, gold, num_labels, cost, budget, max_distinct=args.max_selected)
    full_pred = combine([probs[n] for n in full], [1.0] * len(full), np.zeros(num_labels), 0.0).argmax(1)
    rng = np.random.default_rng(0)
    mixes, accs, f1s = collections.Counter(), [], []
    for _ in range(args.resamples):
        idx = rng.integers(0, len(gold), len(gold))
        chosen = greedy_select(names, {n: p[idx] for n, p in probs.items()}, gold[idx], num_labels, cost, budget,
                               max_distinct=args.max_selected)
        mixes[tuple(sorted(chosen))] += 1
        accs.append(accuracy(gold[idx], full_pred[idx]))
        f1s.append(f1_macro(gold[idx], full_pred[idx], num_labels))
    print(json.dumps({
        "validationTexts": int(len(gold)), "candidates": len(names), "resamples": args.resamples,
        "selectionOnAllValidation": sorted(full),
        "timesChosen": mixes.get(tuple(sorted(full)), 0), "distinctSelections": len(mixes),
        "mostChosen": [{"members": list(m), "times": c} for m, c in mixes.most_common(5)],
        "chosenMixAccuracy": {"mean": float(np.mean(accs)), "sd": float(np.std(accs))},
        "chosenMixF1Macro": {"mean": float(np.mean(f1s)), "sd": float(np.std(f1s))},
    }, indent=1))


if __name__ == "__main__":
    main()
