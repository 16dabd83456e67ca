"""How much does a shipped recipe's test score move with its seeds alone? The members of a
selection (the mix, its settings and τ, unchanged) are refit on train+validation, as the final stage
does, once with their own seeds and once per further seed set (every member's seed + 100·j), and
each mix is scored on MASSIVE test. Set 0 repeats the final stage's shipped fits, so on the host kind
that built the bundle it reproduces the bundle's test figure: the check that nothing else changed.

This measures the spread of a test figure; it picks nothing. A bundle chosen because its seeds
scored best on test would be selected on test (docs/MODEL.md, "Where the target stands").

    python training/seed_spread.py --selection training/logs/massive-scratch-1.1.0/sweep/selection.json \\
        --vocab models/massive-scratch/vocab.txt --sets 4 --data DIR --word-vectors WV --out WORK
        # → WORK/seed-spread.json: each set's test accuracy / F1-macro, their mean and standard deviation
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.ensemble import combine  # noqa: E402
from intentql_training.metrics import summary  # noqa: E402
from setting_study import add_common_args  # noqa: E402
from train import log, prepare, run_members_fits, smoke  # noqa: E402

SEED_STEP = 100  # set j trains each member with its seed + SEED_STEP·j (no overlap with sweep seeds 1-9)


def seed_sets(members: list[dict], sets: int) -> list[list[tuple]]:
    """Per set, the fit specs (name, kind, config, seed) of every member; set 0 keeps the seeds."""
    return [[(f"{m['name']}-x{j}", m["kind"], m["config"], m["seed"] + SEED_STEP * j) for m in members]
            for j in range(sets)]


def spread(rows: list[dict]) -> dict:
    out = {}
    for key in ("accuracy", "f1Macro"):
        values = np.array([r[key] for r in rows])
        out[key] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1)) if len(values) > 1 else None,
                    "min": float(values.min()), "max": float(values.max())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--selection", required=True, help="a selection.json (its members, settings and τ)")
    ap.add_argument("--sets", type=int, default=4, help="seed sets, the selection's own seeds first")
    args = ap.parse_args()
    selection = json.loads(Path(args.selection).read_text())
    work, _, labels, data, log_prior = prepare(args)
    members, tau = selection["members"], selection["tau"]
    sets = [smoke(args, specs) for specs in seed_sets(members, args.sets)]
    log(f"{len(members)} members × {args.sets} seed sets on train+validation, τ {tau}")
    run_members_fits(work, [(*s, "train+validation") for specs in sets for s in specs], args.parallel,
                     args.member_timeout)
    gold_test = np.asarray(data["test"]["y"])
    weights = [m["weight"] for m in members]
    rows = []
    for j, specs in enumerate(sets):
        names = [s[0] for s in specs]
        missing = [n for n in names if not (work / "members" / n / "done.json").exists()]
        if missing:
            log(f"set {j}: fits missing {missing}: left out")
            continue
        probs = [np.load(work / "members" / n / "outputs.npz")["test"] for n in names]
        metrics = summary(gold_test, combine(probs, weights, log_prior, tau).argmax(1), len(labels))
        rows.append({"set": j, "seeds": [s[3] for s in specs], **metrics})
        log(f"set {j} (seeds {[s[3] for s in specs]}): test {metrics}")
    report = {"selection": args.selection, "tau": tau, "members": [m["name"] for m in members],
              "seedStep": SEED_STEP, "sets": rows, "spread": spread(rows) if rows else None}
    (work / "seed-spread.json").write_text(json.dumps(report, indent=1) + "\n")
    log(f"spread over {len(rows)} sets: {report['spread']}")


if __name__ == "__main__":
    main()
