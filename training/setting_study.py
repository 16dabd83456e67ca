"""Does one change of member settings help on new text? Each shape in SHAPES is trained on train
with the same seed as it is (baseline) and once per change (`--change TAG=JSON`), and all are
scored on validation, alone and in the mixes fixed in MIXES (not picked on validation). Nothing of
validation is trained on, so the comparison is clean; out-of-fold figures over train+validation
are not used here, because for some member kinds they ran high on the train split's near-repeats
(docs/MODEL.md, "A 1.4.0 candidate").

    python training/setting_study.py --change 'fh={"factored_head": true}' --data DIR \\
        --vocab VOCAB --word-vectors WV --out WORK --parallel 12
        # → WORK/study.json; and WORK/selection.json (train.py --stage final --selection) with the
        #   changed members of the best fixed mix, written only when that mix beat its own baseline
        #   and every baseline mix that fits, and its bundle fits 24,000,000 bytes

Every score also gives the accuracy on the validation texts that hold a word train never had
(`unseenWordAccuracy`): where a change in what members know of words should show first.

fold_teacher.py runs the same comparison for distillation, after training its teachers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export import BUNDLE_BUDGET_BYTES, text_files_bytes  # noqa: E402
from intentql_training.ensemble import combine, ensemble_bytes  # noqa: E402
from intentql_training.metrics import summary  # noqa: E402
from train import (  # noqa: E402
    CONV256, EMA, N64, NG, T192, gather, log, measure_onnx_bytes, prepare, run_members_fits, smoke, write_selection)

# The shapes compared: 1.1.0's three (two seeds of its transformer) and the best conv and n48 of the
# fold sweeps, one seed each; on an H200 host 12 fits at a time take ~200 s.
SHAPES = [
    ("t192x3-ema-s1", "transformer", {**T192, **EMA}, 1),
    ("t192x3-ema-s2", "transformer", {**T192, **EMA}, 2),
    ("n64-b4k-ema-s1", "ngram", {**N64, **EMA}, 1),
    ("n48-b4k-s1", "ngram", NG[48], 1),
    ("n32-b4k-s1", "ngram", NG[32], 1),
    ("conv256-s1", "conv", CONV256, 1),
]
# Mixes fixed before any study: 1.1.0's shapes, and one member of each kind. The third (added
# 2026-11-27, before the open-vocabulary study ran) is 1.1.0's shapes less n32: with a change that
# adds bytes (open vectors: ~2.6 MB) the 3-member mixes are over the bundle budget.
MIXES = {
    "1.1.0 shapes": ["n64-b4k-ema-s1", "t192x3-ema-s2", "n32-b4k-s1"],
    "one of each kind": ["conv256-s1", "n48-b4k-s1", "t192x3-ema-s1"],
    "1.1.0 shapes less n32": ["n64-b4k-ema-s1", "t192x3-ema-s2"],
}
TAU = 0.1  # 1.1.0's prior correction; the fold sweeps found τ in 0-0.3 moves these mixes ≤ 0.15 / 0.34


def mix_tau(setting: dict) -> float:
    """τ for a mix of members trained with `setting`: TAU, less their class balance (member.COMMON
    `balance`), so that every mix decides with the same prior."""
    return TAU - setting.get("balance", 0.0)


def variant_specs(shapes: list[tuple], setting: dict, tag: str) -> list[tuple]:
    return [(f"{n}-{tag}", k, {**c, **setting}, s) for n, k, c, s in shapes]


def unseen_word_rows(data: dict, vocab: list[str]) -> np.ndarray:
    """Which validation rows hold a word (a piece not starting with ## and the ## pieces after it)
    that no train row has."""
    def words(ids: list[int]) -> list[tuple[int, ...]]:
        out: list[list[int]] = []
        for i in ids:
            if vocab[i].startswith("##") and out:
                out[-1].append(i)
            else:
                out.append([i])
        return [tuple(w) for w in out]

    known = {w for ids in data["train"]["ids"] for w in words(list(ids))}
    return np.asarray([any(w not in known for w in words(list(ids))) for ids in data["validation"]["ids"]])


def compare(work: Path, data: dict, labels: list, log_prior: np.ndarray, shapes: list[tuple], variants: dict,
            extra: dict) -> dict:
    """Scores the baseline `shapes` and each variant (tag → its specs, named `{shape}-{tag}`) on
    validation, alone and in MIXES; writes study.json (with `extra`) and, when the best variant mix
    that fits the bundle budget (estimated bytes; measured by an export where the estimate is over)
    beat on accuracy + F1 both its own baseline mix and every baseline mix that fits (the recipe
    as it stands), selection.json for the final stage."""
    num_labels = len(labels)
    gold_val = np.asarray(data["validation"]["y"])
    found = {"probs": {}, "params": {}, "sizes": {}, "report": {}, "typed": {}}
    gather(work, shapes + [s for specs in variants.values() for s in specs], data, num_labels, found)

    unseen = unseen_word_rows(data, (work / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1])
    for name, probs in found["probs"].items():
        found["report"][name]["unseenWordAccuracy"] = float((probs[unseen].argmax(1) == gold_val[unseen]).mean())

    def mix_score(names: list[str], tau: float = TAU) -> dict | None:
        if not all(n in found["probs"] for n in names):
            return None
        pred = combine([found["probs"][n] for n in names], [1.0] * len(names), log_prior, tau).argmax(1)
        return {**summary(gold_val, pred, num_labels),
                "unseenWordAccuracy": float((pred[unseen] == gold_val[unseen]).mean()), "unseenWordTexts": int(unseen.sum())}

    def total(m: dict) -> float:
        return m["accuracy"] + m["f1Macro"]

    text = text_files_bytes(work / "vocab.txt", labels)

    def bundle_bytes(names: list[str]) -> dict:
        """{"bundleEstimate"[, "bundleMeasured"]}: the mix's bundle bytes ({} when a member is missing)."""
        if not all(n in found["sizes"] for n in names):
            return {}
        out = {"bundleEstimate": ensemble_bytes(names, found["sizes"]) + text}
        if out["bundleEstimate"] > BUNDLE_BUDGET_BYTES:
            # the estimate errs high (ensemble.ONNX_BASE_BYTES): near the line, export the mix and measure
            measured = measure_onnx_bytes(work, {n: 1 for n in names}, labels, log_prior,
                                          lambda n: f"members/{n}/member.pt")
            if measured is not None:
                out["bundleMeasured"] = sum(measured.values()) + text
        return out

    def fits(size: dict) -> bool:
        return size.get("bundleMeasured", size.get("bundleEstimate", BUNDLE_BUDGET_BYTES + 1)) <= BUNDLE_BUDGET_BYTES

    mixes, candidates = {}, {}
    for title, members in MIXES.items():
        row = {"baseline": mix_score(members), **bundle_bytes(members)}
        for tag, specs in variants.items():
            names = [f"{n}-{tag}" for n in members]
            row[tag] = mix_score(names, mix_tau(specs[0][2]))
            if mix_tau(specs[0][2]) != TAU:  # the same members deciding with the baseline's τ, for reference
                row[f"{tag} at τ {TAU}"] = mix_score(names)
            size = bundle_bytes(names)
            if size:
                row[f"{tag} bytes"] = size
            if fits(size) and row[tag] and row["baseline"] and total(row[tag]) > total(row["baseline"]):
                candidates[(title, tag)] = row[tag]
        mixes[title] = row
        log(f"mix {title}: {row}")
    # the bar: every baseline mix that fits (a change must beat the recipe as it stands, not only a
    # weaker mix of its own)
    bar = max((total(row["baseline"]) for row in mixes.values() if row["baseline"] and fits(row)), default=0.0)
    better = {key: m for key, m in candidates.items() if total(m) > bar}
    (work / "study.json").write_text(json.dumps({"tau": TAU, **extra, "members": found["report"], "mixes": mixes},
                                                indent=1) + "\n")
    if not better:
        log("no changed mix within the bundle budget beat its baseline and every baseline mix within it on validation"
            f" (accuracy + F1; the best of those: {bar:.4f}): no selection.json")
        return mixes
    title, tag = max(better, key=lambda key: total(better[key]))
    specs = {s[0]: s for s in variants[tag]}
    chosen = [f"{n}-{tag}" for n in MIXES[title]]
    write_selection(work, [specs[n] for n in chosen], {n: 1 for n in chosen}, {
        "selectedOn": f"validation: the fixed mix '{title}' with setting '{tag}', against its baseline",
        "tau": mix_tau(variants[tag][0][2]), "validation": better[(title, tag)], "sweep": found["report"],
        "logPrior": log_prior.tolist()})
    log(f"wrote selection.json: {chosen}")
    return mixes


def add_common_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", required=True, help="folder with train/validation/test.jsonl")
    ap.add_argument("--out", required=True, help="the work folder")
    ap.add_argument("--vocab", required=True, help="the vocab the members use (a sweep's vocab.txt)")
    ap.add_argument("--vocab-size", type=int, default=6000)
    ap.add_argument("--word-vectors", help="the word vectors (train.py --word-vectors)")
    ap.add_argument("--neighbours", help="the neighbour table (train.py --neighbours)")
    ap.add_argument("--parallel", type=int, default=12)
    ap.add_argument("--member-timeout", type=int, default=540, help="seconds for all the fits together")
    ap.add_argument("--tiny", action="store_true", help="smoke tests: toy sizes for every member")
    ap.add_argument("--epochs-override", type=int, default=0, help="smoke tests: epochs for every member")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--change", action="append", required=True,
                    help="TAG=JSON: settings to change (over member.DEFAULTS and COMMON); TAG ends the changed members' names")
    args = ap.parse_args()
    changes = {tag: json.loads(setting) for tag, setting in (c.split("=", 1) for c in args.change)}
    work, _, labels, data, log_prior = prepare(args)
    shapes = smoke(args, SHAPES)
    variants = {tag: smoke(args, variant_specs(SHAPES, setting, tag)) for tag, setting in changes.items()}
    log(f"{len(shapes)} shapes on train, each as is and with each of {changes}")
    fits = shapes + [s for specs in variants.values() for s in specs]
    run_members_fits(work, [(*s, "train") for s in fits], args.parallel, args.member_timeout)
    compare(work, data, labels, log_prior, shapes, variants, {"changes": changes})


if __name__ == "__main__":
    main()
