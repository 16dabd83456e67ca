"""The seed model card's way of serving, on the same GPU and model geometry, for comparison with
gpu-service: Hugging Face PyTorch eager, fp32, batch 32, every text padded to 128 tokens, tokenized
by the Hugging Face fast tokenizer. Texts are MASSIVE-like (6-20 tokens): random vocabulary words.
Prints one JSON line with texts/s end to end (tokenize + model) and model only.

    python bench/seed_way.py --hf DIR [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hf", required=True)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    from transformers import AutoTokenizer, DistilBertForSequenceClassification

    device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(args.hf)
    model = DistilBertForSequenceClassification.from_pretrained(args.hf, attn_implementation="eager")
    model = model.to(device).eval()
    rng = random.Random(1)
    words = [w for w in tok.get_vocab() if w.isalpha() and len(w) > 2]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(4, 18))) for _ in range(args.batch * 64)]
    batches = [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]

    def run(seconds: float, tokenize_inside: bool, pre=None) -> float:
        n, i = 0, 0
        torch.cuda.synchronize() if device == "cuda" else None
        t0 = time.perf_counter()
        with torch.no_grad():
            while time.perf_counter() - t0 < seconds:
                if tokenize_inside:
                    enc = tok(batches[i % len(batches)], padding="max_length", truncation=True, max_length=128,
                              return_tensors="pt")
                else:
                    enc = pre[i % len(pre)]
                logits = model(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device)).logits
                logits.argmax(-1).cpu()  # the caller needs the answer on the host
                n += enc["input_ids"].shape[0]
                i += 1
        torch.cuda.synchronize() if device == "cuda" else None
        return n / (time.perf_counter() - t0)

    pre = [tok(b, padding="max_length", truncation=True, max_length=128, return_tensors="pt") for b in batches]
    run(2, False, pre)  # warm-up (cuBLAS handles, allocator)
    end_to_end = run(args.seconds / 2, True)
    model_only = run(args.seconds / 2, False, pre)
    print(json.dumps({"step": "seed_way", "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
                      "batch": args.batch, "padTo": 128, "dtype": "fp32", "framework": f"torch {torch.__version__} eager",
                      "textsPerSecEndToEnd": round(end_to_end, 1), "textsPerSecModelOnly": round(model_only, 1)}))


if __name__ == "__main__":
    main()
