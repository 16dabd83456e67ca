"""A randomly initialised, tiny DistilBERT saved like a hub checkpoint (config, weights, tokenizer),
so that `train.py --recipe seed --base DIR` runs the seed recipe's exact code path without network.
With --full it has distilbert-base-uncased's geometry (6 layers, 768 dim, 12 heads, 3072 FFN) for
GPU benchmarks; that one is never committed.

    python training/make_tiny_distilbert.py --vocab VOCAB.txt --out DIR [--full] [--labels 60]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--labels", type=int, default=60)
    args = ap.parse_args()
    import transformers
    from transformers import BertTokenizerFast, DistilBertConfig, DistilBertForSequenceClassification

    torch.manual_seed(0)
    lines = Path(args.vocab).read_text(encoding="utf-8").split("\n")[:-1]
    geometry = dict(dim=768, n_layers=6, n_heads=12, hidden_dim=3072) if args.full else dict(
        dim=64, n_layers=2, n_heads=2, hidden_dim=128)
    config = DistilBertConfig(vocab_size=len(lines), max_position_embeddings=512, num_labels=args.labels, **geometry)
    model = DistilBertForSequenceClassification(config)
    out = Path(args.out)
    model.save_pretrained(out)
    if int(transformers.__version__.split(".")[0]) >= 5:  # 5.x takes the vocab itself, ignores vocab_file
        tok = BertTokenizerFast(vocab={t: i for i, t in enumerate(lines)}, do_lower_case=True)
    else:
        tok = BertTokenizerFast(vocab_file=args.vocab, do_lower_case=True)
    tok.save_pretrained(out)
    (out / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}: {sum(p.numel() for p in model.parameters()):,} parameters, geometry {geometry}")


if __name__ == "__main__":
    main()
