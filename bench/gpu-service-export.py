"""Exports a Hugging Face DistilBertForSequenceClassification folder (e.g. from
`training/make_tiny_distilbert.py --full`) to a gpu-service bundle with an fp16 variant only:
TorchScript ONNX export (opset 17, dynamic batch/sequence), onnxruntime transformers optimizer
(fused attention), fp16 weights with fp32 inputs/outputs, and a minimal valid bundle.json with
every sha256. For GPU benchmarks: the weights are random, so accuracy means nothing.

    python bench/gpu-service-export.py --hf DIR --out BUNDLE_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))

from export import LogitsOnly, export_onnx  # noqa: E402  (training/export.py: the bundles' own export)
from intentql_training.data import sha256_file as sha256  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hf", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="distilbert-full-bench")
    args = ap.parse_args()
    from transformers import DistilBertForSequenceClassification

    t0 = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    hf = DistilBertForSequenceClassification.from_pretrained(args.hf, attn_implementation="eager").eval()
    cfg = hf.config
    vocab = (Path(args.hf) / "vocab.txt").read_text(encoding="utf-8")
    (out / "vocab.txt").write_text(vocab, encoding="utf-8")
    vocab_size = len(vocab.split("\n")) - (1 if vocab.endswith("\n") else 0)
    labels = [{"id": i, "name": f"label_{i:02d}", "scenario": "bench", "action": f"a{i:02d}"} for i in range(cfg.num_labels)]
    (out / "labels.json").write_text(json.dumps(labels, indent=1), encoding="utf-8")

    fp32 = out.parent / f"{out.name}.fp32.onnx"  # outside the bundle: only fp16 is served
    export_onnx(LogitsOnly(hf).eval(), fp32, vocab_size)
    from onnxruntime.transformers import optimizer

    opt = optimizer.optimize_model(str(fp32), model_type="bert", num_heads=cfg.n_heads, hidden_size=cfg.dim,
                                   opt_level=0, use_gpu=True)
    fused = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
    opt.convert_float_to_float16(keep_io_types=True)
    opt.save_model_to_file(str(out / "model.fp16.onnx"))

    files = {name: out / name for name in ("vocab.txt", "labels.json", "model.fp16.onnx")}
    manifest = {
        "format": "intentql-bundle/1",
        "name": args.name,
        "version": "1.0.0",
        "task": "intent-classification",
        "architecture": {"type": "distilbert", "layers": cfg.n_layers, "dim": cfg.dim, "heads": cfg.n_heads,
                         "ffn": cfg.hidden_dim, "vocabSize": vocab_size, "weights": "random (benchmark only)"},
        "maxLength": 128,
        "inputs": [{"name": "input_ids", "datatype": "INT64", "shape": [-1, -1]},
                   {"name": "attention_mask", "datatype": "INT64", "shape": [-1, -1]}],
        "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, cfg.num_labels]}],
        "tokenizer": {"type": "bert-wordpiece", "lowercase": True, "vocab": "vocab.txt",
                      "vocabSha256": sha256(files["vocab.txt"]), "vocabSize": vocab_size},
        "labels": {"file": "labels.json", "sha256": sha256(files["labels.json"]), "count": cfg.num_labels},
        "variants": {"fp16": {"file": "model.fp16.onnx", "sha256": sha256(files["model.fp16.onnx"]),
                              "bytes": files["model.fp16.onnx"].stat().st_size, "fusedOperators": fused}},
        "defaultVariant": {"cpu": "fp16", "cuda": "fp16"},
        "files": [{"path": n, "sha256": sha256(p), "bytes": p.stat().st_size} for n, p in files.items()],
        "metrics": {},
    }
    (out / "bundle.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print(json.dumps({"step": "export", "bundle": str(out), "fused": fused, "seconds": round(time.time() - t0, 1),
                      "fp16Bytes": files["model.fp16.onnx"].stat().st_size}))


if __name__ == "__main__":
    main()
