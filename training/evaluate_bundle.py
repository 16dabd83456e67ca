"""Evaluates model bundles with onnxruntime on the CPU (issue 14): test accuracy/F1 per variant,
the typed-digits gap (typed_digits.py), the out-of-scope flag on a labelled out-of-scope set
(precision, recall, per category) and its false-positive rate on in-scope test texts, and CPU
latency per text (batch 1, one thread). Every bundle is measured in the same process, so the
figures compare on one machine.

    python training/evaluate_bundle.py --bundle NEW --bundle models/massive-scratch \
        --data data/massive-en --oos training/oos_eval.jsonl --out evaluation.json

The out-of-scope decision is the edge's: softmax(logits / calibration.temperature), flagged when
the top probability < calibration.outOfScope.threshold (both from bundle.json).
Precision = flagged out-of-scope texts / all flagged texts, over the out-of-scope set plus the
in-scope test split (so it depends on their sizes: both counts are in the report).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.data import load_jsonl  # noqa: E402
from intentql_training.metrics import summary  # noqa: E402
from typed_digits import OnnxBundle, gap  # noqa: E402


def evaluate(folder: str, data: Path, oos_file: Path, latency_texts: int) -> dict:
    manifest = json.loads((Path(folder) / "bundle.json").read_text())
    test = load_jsonl(data / "test.jsonl")
    oos = [json.loads(l) for l in oos_file.read_text(encoding="utf-8").splitlines() if l.strip()]
    report: dict = {"bundle": folder, "name": manifest["name"], "version": manifest["version"],
                    "calibration": {"temperature": manifest["calibration"]["temperature"],
                                    "threshold": manifest["calibration"]["outOfScope"]["threshold"]},
                    "bytes": sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file()),
                    "variants": {}}
    for variant in manifest["variants"]:
        b = OnnxBundle(folder, variant)
        index = {n: i for i, n in enumerate(b.labels)}
        gold = np.asarray([index[r.intent] for r in test])
        try:
            logits = b.logits([r.text for r in test])
        except Exception as e:  # fused fp16 GPU ops may not run on the CPU provider
            report["variants"][variant] = {"error": f"{type(e).__name__}: {e}"[:300]}
            continue
        entry = {"test": summary(gold, logits.argmax(1), len(b.labels)), "typedDigits": gap(b, data / "test.jsonl")}
        in_flag = b.calibrated_top(logits) < b.threshold
        oos_logits = b.logits([r["text"] for r in oos])
        oos_flag = b.calibrated_top(oos_logits) < b.threshold
        tp, fp = int(oos_flag.sum()), int(in_flag.sum())
        cats = sorted({r["category"] for r in oos})
        entry["outOfScope"] = {
            "outOfScopeTexts": len(oos), "inScopeTexts": len(test),
            "recall": tp / len(oos), "precision": tp / (tp + fp) if tp + fp else 0.0,
            "inScopeFalsePositiveRate": fp / len(test),
            "recallByCategory": {c: float(np.mean([f for f, r in zip(oos_flag, oos) if r["category"] == c])) for c in cats},
            "categoryCounts": {c: sum(r["category"] == c for r in oos) for c in cats},
            "inScopeAccuracyOfKept": float((logits.argmax(1) == gold)[~in_flag].mean()),
            "unflaggedExamples": [{"text": r["text"], "intent": b.labels[int(z.argmax())],
                                   "top": float(t)} for r, z, t, f in zip(oos, oos_logits, b.calibrated_top(oos_logits), oos_flag) if not f][:40],
        }
        if variant in ("fp32", "int8"):
            single = OnnxBundle(folder, variant, threads=1)
            rows = single.encoder.encode([r.text for r in test[:latency_texts]])
            for r in rows[:20]:
                single.run_ids([r])  # warm-up
            times = []
            for r in rows:
                t0 = time.perf_counter()
                single.run_ids([r])
                times.append(time.perf_counter() - t0)
            times_ms = np.asarray(times) * 1000
            entry["latencyMsPerText"] = {"texts": len(rows), "batch": 1, "intraOpThreads": 1,
                                         "mean": float(times_ms.mean()), "p50": float(np.median(times_ms)),
                                         "p95": float(np.quantile(times_ms, 0.95))}
        report["variants"][variant] = entry
        print(json.dumps({"bundle": folder, "variant": variant,
                          **{k: v for k, v in entry.items() if k != "outOfScope"},
                          "oos": {k: v for k, v in entry["outOfScope"].items() if k != "unflaggedExamples"}}), flush=True)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", action="append", required=True)
    ap.add_argument("--data", required=True, help="folder with test.jsonl")
    ap.add_argument("--oos", required=True, help='out-of-scope set: JSONL {"text","category"}')
    ap.add_argument("--latency-texts", type=int, default=500)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    reports = [evaluate(b, Path(args.data), Path(args.oos), args.latency_texts) for b in args.bundle]
    Path(args.out).write_text(json.dumps(reports, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
