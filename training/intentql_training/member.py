"""Trains one ensemble member (a process of its own, so that the orchestrator can run many at once
on one GPU). Writes `<out>/member.pt`, `<out>/log.jsonl` (per-epoch validation metrics) and
`<out>/outputs.npz` (validation and test probabilities, for ensemble selection and the final report).

    python -m intentql_training.member --workdir W --name NAME --kind transformer \
        --config '{"dim":256}' --seed 1 --fit train
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .metrics import summary
from .models import NgramClassifier, TransformerClassifier, count_params

DEFAULTS = {
    "transformer": {
        "dim": 256, "layers": 4, "heads": 4, "ffn": 512, "emb_dim": 100, "dropout": 0.1,
        "lr": 5e-4, "epochs": 40, "batch": 64, "warmup": 0.06, "weight_decay": 0.01,
        "label_smoothing": 0.1, "token_dropout": 0.1, "glove": True,
    },
    "ngram": {
        "hidden": 64, "ngram_buckets": 16384, "char_buckets": 16384, "dropout": 0.2,
        "lr": 3e-3, "epochs": 30, "batch": 64, "warmup": 0.03, "weight_decay": 0.0,
        "label_smoothing": 0.1, "token_dropout": 0.05, "glove": False,
    },
}


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def pad_batch(rows: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    s = max(len(r) for r in rows)
    ids = torch.full((len(rows), s), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), s), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids.to(device), mask.to(device)


def load_word_vectors(path: Path) -> dict[str, np.ndarray]:
    vectors = {}
    if not path.exists():
        return vectors
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        vectors[parts[0]] = np.asarray(parts[1:], dtype=np.float32)
    return vectors


def build_model(kind: str, cfg: dict, vocab: list[str], num_labels: int, word_vectors: dict | None = None):
    if kind == "transformer":
        model = TransformerClassifier(
            len(vocab), num_labels, dim=cfg["dim"], layers=cfg["layers"], heads=cfg["heads"],
            ffn=cfg["ffn"], emb_dim=cfg["emb_dim"], dropout=cfg["dropout"],
        )
        if word_vectors and cfg.get("glove"):
            emb = model.word_embeddings.weight
            with torch.no_grad():
                known = np.stack(list(word_vectors.values()))
                emb.normal_(0.0, float(known.std()))
                hits = 0
                for i, tok in enumerate(vocab):
                    v = word_vectors.get(tok)
                    if v is not None and v.shape[0] == emb.shape[1]:
                        emb[i] = torch.from_numpy(v)
                        hits += 1
            model.glove_hits = hits
        return model
    if kind == "ngram":
        return NgramClassifier(
            vocab, num_labels, hidden=cfg["hidden"], ngram_buckets=cfg["ngram_buckets"],
            char_buckets=cfg["char_buckets"], dropout=cfg["dropout"],
        )
    raise ValueError(f"unknown member kind {kind}")


@torch.no_grad()
def predict_probs(model, rows, pad_id, device, batch=512) -> np.ndarray:
    model.eval()
    out = []
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    for start in range(0, len(rows), batch):
        idx = order[start : start + batch]
        ids, mask = pad_batch([rows[i] for i in idx], pad_id, device)
        out.append((idx, torch.softmax(model(ids, mask).float(), -1).cpu().numpy()))
    probs = np.zeros((len(rows), out[0][1].shape[1]), dtype=np.float32)
    for idx, p in out:
        probs[idx] = p
    return probs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True, help="holds encoded.pt and vocab.txt from the orchestrator")
    ap.add_argument("--name", required=True)
    ap.add_argument("--kind", choices=list(DEFAULTS), required=True)
    ap.add_argument("--config", default="{}")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fit", choices=["train", "train+validation"], default="train")
    args = ap.parse_args()

    work = Path(args.workdir)
    cfg = {**DEFAULTS[args.kind], **json.loads(args.config)}
    data = torch.load(work / "encoded.pt")
    vocab = (work / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    num_labels = len(data["labels"])
    pad_id, unk_id = vocab.index("[PAD]"), vocab.index("[UNK]")
    special = {vocab.index(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    set_seed(args.seed)

    train_x, train_y = list(data["train"]["ids"]), list(data["train"]["y"])
    if args.fit == "train+validation":
        train_x += data["validation"]["ids"]
        train_y += data["validation"]["y"]
    val_x, val_y = data["validation"]["ids"], np.asarray(data["validation"]["y"])

    word_vectors = load_word_vectors(work / "word_vectors.txt") if cfg.get("glove") else None
    model = build_model(args.kind, cfg, vocab, num_labels, word_vectors).to(device)
    out_dir = work / "members" / args.name
    out_dir.mkdir(parents=True, exist_ok=True)

    steps_per_epoch = math.ceil(len(train_x) / cfg["batch"])
    total = steps_per_epoch * cfg["epochs"]
    warm = max(1, int(total * cfg["warmup"]))
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "norm" in n]
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "norm" not in n]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg["lr"],
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm))))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg["label_smoothing"])
    use_amp = device.type == "cuda"
    rng = np.random.default_rng(args.seed)
    log = open(out_dir / "log.jsonl", "w")
    started = time.time()
    for epoch in range(1, cfg["epochs"] + 1):
        model.train()
        perm = rng.permutation(len(train_x))
        total_loss = 0.0
        for start in range(0, len(perm), cfg["batch"]):
            idx = perm[start : start + cfg["batch"]]
            rows = []
            for i in idx:
                r = list(train_x[i])
                if cfg["token_dropout"] > 0:
                    r = [unk_id if (t not in special and rng.random() < cfg["token_dropout"]) else t for t in r]
                rows.append(r)
            ids, mask = pad_batch(rows, pad_id, device)
            y = torch.tensor([train_y[i] for i in idx], device=device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = loss_fn(model(ids, mask).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total_loss += float(loss) * len(idx)
        val_pred = predict_probs(model, val_x, pad_id, device).argmax(1)
        row = {"epoch": epoch, "loss": total_loss / len(perm), **summary(val_y, val_pred, num_labels),
               "seconds": round(time.time() - started, 1)}
        log.write(json.dumps(row) + "\n")
        log.flush()
    log.close()
    model = model.cpu()
    torch.save({"kind": args.kind, "config": cfg, "seed": args.seed, "fit": args.fit, "state": model.state_dict()},
               out_dir / "member.pt")
    np.savez(
        out_dir / "outputs.npz",
        validation=predict_probs(model, val_x, pad_id, "cpu"),
        test=predict_probs(model, data["test"]["ids"], pad_id, "cpu"),
    )
    (out_dir / "done.json").write_text(json.dumps({
        "params": count_params(model), "glove_hits": getattr(model, "glove_hits", None),
        "final": row, "seconds": round(time.time() - started, 1)}))


if __name__ == "__main__":
    main()
