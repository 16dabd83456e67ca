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
from .models import ConvClassifier, FactoredHead, LinearClassifier, NgramClassifier, TransformerClassifier, count_params
from .open_vectors import OpenWordVectors
from .open_vectors import load as load_open_vectors
from .tokenization import BertWordPiece

DEFAULTS = {
    "transformer": {
        "dim": 256, "layers": 4, "heads": 4, "ffn": 512, "emb_dim": 100, "dropout": 0.1,
        "lr": 5e-4, "epochs": 40, "batch": 64, "warmup": 0.06, "weight_decay": 0.01,
        "label_smoothing": 0.1, "token_dropout": 0.1, "glove": True,
        # self-pretraining (mlm_pretrain): 0 epochs = off
        "mlm_epochs": 0, "mlm_lr": 5e-4, "mlm_batch": 128, "mlm_prob": 0.15,
    },
    "conv": {
        "emb_dim": 100, "filters": 128, "widths": [1, 3, 5], "dropout": 0.3,
        "lr": 1e-3, "epochs": 30, "batch": 64, "warmup": 0.03, "weight_decay": 0.0,
        "label_smoothing": 0.1, "token_dropout": 0.1, "glove": True,
    },
    "ngram": {
        "hidden": 64, "ngram_buckets": 16384, "char_buckets": 16384, "dropout": 0.2,
        "lr": 3e-3, "epochs": 30, "batch": 64, "warmup": 0.03, "weight_decay": 0.0,
        "label_smoothing": 0.1, "token_dropout": 0.05, "glove": False,
    },
    # models.LinearClassifier, fit by fit_linear: `C` is the inverse L2 strength as scikit-learn's
    # LogisticRegression has it (mean loss + ‖W‖² / (2·C·texts)); no epochs, no seed, no dropout.
    "linear": {
        "ngram_buckets": 4096, "char_buckets": 4096, "C": 30.0, "max_iter": 500,
        "epochs": 0, "batch": 64, "lr": 0.0, "warmup": 0.0, "weight_decay": 0.0,
        "label_smoothing": 0.0, "token_dropout": 0.0, "glove": False,
    },
}


# Issue 14: typed-text augmentation (`typed_aug`: chance that a training text is swapped for one of
# its typed variants), the out-of-scope signal (`noise_rows` gibberish texts per batch, trained
# towards a flat distribution with weight `noise_weight`), weight EMA (0 = off), distillation
# (`distill`: the weight of the soft-target loss against <workdir>/teacher.npz, 0 = off; the hard
# label loss keeps 1 − distill), `factored_head` (models.FactoredHead: intent weights shared
# through scenario and action while training, folded into one layer before saving), and `balance`
# (class-balanced sampling: each epoch draws as many texts as the fit has, with replacement, each
# with probability ∝ count(its intent)^−balance; 0 = every text once, in random order). A member
# trained with balance b has the prior count^(1−b) built in: mixes of such members use τ − b
# (setting_study.mix_tau) to decide with the same prior as the rest. `drop`: a JSON list of
# train+validation row indices (train first) that the fit leaves out, path relative to the repo
# root (find_label_noise.py writes one); "" = none.
# `rdrop`: R-Drop (Liang et al., 2021), the weight of the symmetric KL divergence between two
# forward passes of each batch, which differ only in their dropout masks (0 = off, one pass); both
# passes' cross-entropy is averaged, so a member pays a second forward and backward per step.
# `open_vectors`: a file of open_vectors.py `reduce` (word → reduced vector), path relative to the
# repo root, "" = none: the member adds each word's frozen vector to its input (OpenWordVectors);
# `open_shape` is filled in when the tables are built, so that export can make the member again.
# `adv_eps`: adversarial training on the input tables (FGM, after Miyato et al., 2017): each step
# pushes every row of the member's token tables (adversarial_tables) that the batch used along its
# loss gradient, by `adv_eps` × the table's root-mean-square row norm, and adds the cross-entropy
# of that pushed forward pass to the step's; 0 = off. A member pays a second forward and backward.
# `swap_aug`: chance that a training text is swapped for one of its neighbour-word variants
# (neighbours.py: rare words replaced by words general text uses alike; encoded.pt `swaps`, made
# when train.py has --neighbours), drawn before the typed variant, which then takes the text's place
# with its own chance; 0 = off.
COMMON = {"typed_aug": 0.3, "noise_rows": 8, "noise_weight": 0.5, "ema": 0.0, "max_len": 64, "eval_every": 5,
          "distill": 0.0, "factored_head": False, "balance": 0.0, "drop": "", "open_vectors": "", "open_shape": None,
          "rdrop": 0.0, "swap_aug": 0.0, "adv_eps": 0.0}
REPO_ROOT = Path(__file__).resolve().parents[2]


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


def init_from_word_vectors(model, vocab: list[str], word_vectors: dict) -> None:
    """Word embeddings from GloVe where the vocab has the word; the rest drawn at GloVe's spread."""
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


def open_word_vectors(cfg: dict, vocab: list[str]) -> OpenWordVectors | None:
    """The member's open-vocabulary tables: empty ones of `open_shape` (export loads member.pt's
    state into them), else built from the `open_vectors` file, recording their shape in cfg."""
    if not cfg.get("open_vectors"):
        return None
    if cfg.get("open_shape"):
        return OpenWordVectors.from_shape(len(vocab), cfg["open_shape"])
    pieces = BertWordPiece({t: i for i, t in enumerate(vocab)}, cfg["max_len"]).wordpiece
    module = OpenWordVectors.build(vocab, load_open_vectors(REPO_ROOT / cfg["open_vectors"]), pieces)
    cfg["open_shape"] = module.shape_config()
    return module


def build_model(kind: str, cfg: dict, vocab: list[str], num_labels: int, word_vectors: dict | None = None):
    open_vectors = open_word_vectors(cfg, vocab)
    if kind in ("transformer", "conv"):
        if kind == "transformer":
            model = TransformerClassifier(
                len(vocab), num_labels, dim=cfg["dim"], layers=cfg["layers"], heads=cfg["heads"],
                ffn=cfg["ffn"], emb_dim=cfg["emb_dim"], dropout=cfg["dropout"], open_vectors=open_vectors,
            )
        else:
            model = ConvClassifier(len(vocab), num_labels, emb_dim=cfg["emb_dim"], filters=cfg["filters"],
                                   widths=tuple(cfg["widths"]), dropout=cfg["dropout"], open_vectors=open_vectors)
        if word_vectors and cfg.get("glove"):
            init_from_word_vectors(model, vocab, word_vectors)
        return model
    if kind == "ngram":
        return NgramClassifier(
            vocab, num_labels, hidden=cfg["hidden"], ngram_buckets=cfg["ngram_buckets"],
            char_buckets=cfg["char_buckets"], dropout=cfg["dropout"], open_vectors=open_vectors,
        )
    if kind == "linear":
        return LinearClassifier(vocab, num_labels, ngram_buckets=cfg["ngram_buckets"], char_buckets=cfg["char_buckets"])
    raise ValueError(f"unknown member kind {kind}")


def design_matrix(model: LinearClassifier, ids: torch.Tensor, pad_id: int, batch: int = 4096) -> torch.Tensor:
    """Sparse [texts, features]: the values LinearClassifier.forward sums over (repeats summed)."""
    parts, n = [], len(ids)
    for start in range(0, n, batch):
        x = ids[start : start + batch]
        mask = (x != pad_id).long()
        width = max(int(mask.sum(1).max()), 1)
        for rows, values in model.feature_values(x[:, :width], mask[:, :width]):
            r = torch.arange(start, start + len(x), device=x.device).unsqueeze(1).expand_as(rows)
            keep = values != 0
            parts.append((r[keep], rows[keep], values[keep]))
    r, c, v = (torch.cat(t) for t in zip(*parts))
    return torch.sparse_coo_tensor(torch.stack([r, c]), v, (n, model.idf.numel())).coalesce()


def fit_linear(model: LinearClassifier, X: torch.Tensor, Y: torch.Tensor, V: torch.Tensor | None,
               noise: torch.Tensor | None, cfg: dict, pad_id: int) -> dict:
    """The convex fit of a linear member, with the recipe's signals in expectation instead of by
    sampling: a text counts 1 − typed_aug as written and typed_aug / K as each of its K typed
    variants (what the SGD loop's swaps give on average), and gibberish is pulled towards a flat
    distribution with weight noise_weight. The idf comes from the fit's texts as written."""
    n, labels = len(X), model.bias.numel()
    with torch.no_grad():
        (words, word_mask), (chars, char_mask) = model.features(X, (X != pad_id).long())
        F = model.idf.numel()
        row = torch.arange(n, device=X.device).unsqueeze(1)
        pairs = torch.cat([(row * F + words)[word_mask > 0], (row * F + chars)[char_mask > 0]]).unique()
        df = torch.bincount(pairs % F, minlength=F).to(torch.float32)  # texts that hold each feature
        idf = torch.log((1 + n) / (1 + df)) + 1
        # ÷ max: the block norm makes the scale irrelevant, and the fp16 variant's Σ idf² over a
        # long text (128 pieces × 16 n-grams) then stays far below fp16's 65,504
        model.idf.copy_(idf / idf.max())
        texts = [X] + ([V[k] for k in range(len(V))] if V is not None else [])
        chance = cfg["typed_aug"] if V is not None else 0.0
        weights = [1.0 - chance] + [chance / max(len(texts) - 1, 1)] * (len(texts) - 1)
        A = design_matrix(model, torch.cat(texts), pad_id)
        sample_w = torch.cat([torch.full((n,), w, device=X.device) for w in weights])
        gold = Y.repeat(len(texts))
        N = design_matrix(model, noise, pad_id) if noise is not None and cfg["noise_rows"] > 0 else None
    W = torch.zeros(model.idf.numel(), labels, device=X.device, requires_grad=True)
    b = torch.zeros(labels, device=X.device, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=cfg["max_iter"], history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-6, tolerance_change=1e-10)
    penalty = 1.0 / (2.0 * cfg["C"] * n)

    def closure():
        opt.zero_grad()
        ce = nn.functional.cross_entropy(torch.sparse.mm(A, W) + b, gold, reduction="none")
        loss = (sample_w * ce).sum() / sample_w.sum() + penalty * W.square().sum()
        if N is not None:
            loss = loss - cfg["noise_weight"] * torch.log_softmax(torch.sparse.mm(N, W) + b, -1).mean()
        loss.backward()
        return loss

    opt.step(closure)  # returns the loss it started from
    final = float(closure())
    with torch.no_grad():
        model.set_weights(W.detach())
        model.bias.copy_(b.detach())
    return {"lbfgsLoss": final, "lbfgsEvaluations": opt.state[opt._params[0]]["func_evals"]}


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


def pad_matrix(rows: list[list[int]], pad_id: int, max_len: int) -> torch.Tensor:
    out = torch.full((len(rows), max_len), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        r = r[:max_len - 1] + [r[-1]] if len(r) > max_len else r  # keep [SEP] when cutting
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


def load_teacher(work: Path, all_y: list[int], n_var: int) -> torch.Tensor:
    """The teacher's probabilities for every train+validation row (train first): [1 + variants, rows,
    labels], index 0 the text as written, 1.. its typed variants (train.py write_teacher). Refuses a
    file made from other data: the rows must have the same labels in the same order."""
    path = work / "teacher.npz"
    if not path.exists():
        raise SystemExit(f"distill > 0 needs {path} (train.py writes it in the sweep; --teacher for the final stage)")
    t = np.load(path)
    if t["y"].tolist() != list(all_y) or t["probs"].shape[0] != 1 + n_var:
        raise SystemExit(f"{path} was made from other data (labels or variants differ)")
    return torch.from_numpy(t["probs"].astype(np.float32))


def mlm_pretrain(model, X, V, cfg, special, pad_id: int, mask_id: int, device, gen, log) -> None:
    """Self-pretraining: masked-language modelling on the fit's own texts (as written, or one of
    their typed variants at random) before the supervised epochs, the only pretraining a from-scratch
    model can have here (Krishna et al., 2022, "Downstream datasets make surprisingly good pretraining
    corpora"). BERT's recipe: `mlm_prob` of the non-special tokens are predicted, 80% of them shown as
    [MASK], 10% as a random token, 10% as is. The prediction head (dense → GELU → LayerNorm → vocab) is
    thrown away afterwards: the member's shape and bundle bytes stay. It is not tied to the word
    embeddings as BERT's is: these start as GloVe vectors. In two tiny CPU checks (dim 32, one
    layer) the first epoch's loss was 13.2 nats tied, worse than a uniform guess (8.7), and 7.8 untied."""
    emb = model.word_embeddings
    dim = model.position_embeddings.embedding_dim
    head = nn.Sequential(nn.Linear(dim, emb.embedding_dim), nn.GELU(), nn.LayerNorm(emb.embedding_dim),
                         nn.Linear(emb.embedding_dim, emb.num_embeddings)).to(device)
    opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=cfg["mlm_lr"], weight_decay=0.01)
    n, bs = X.shape[0], cfg["mlm_batch"]
    total = math.ceil(n / bs) * cfg["mlm_epochs"]
    warm = max(1, int(total * 0.06))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm))))
    use_amp = device.type == "cuda"
    model.train()
    for epoch in range(1, cfg["mlm_epochs"] + 1):
        perm = torch.randperm(n, device=device, generator=gen)
        total_loss, masked = torch.zeros((), device=device), 0
        for start in range(0, n, bs):
            idx = perm[start : start + bs]
            ids = X[idx]
            if V is not None:
                use, k = draw_variants(V, len(idx), 0.5, gen)
                ids = torch.where(use.unsqueeze(1), V[k, idx], ids)
            attention = (ids != pad_id).long()
            width = int(attention.sum(1).max())
            ids, attention = ids[:, :width], attention[:, :width]
            pick = (torch.rand(ids.shape, device=device, generator=gen) < cfg["mlm_prob"]) & ~special[ids]
            if not bool(pick.any()):
                continue
            r = torch.rand(ids.shape, device=device, generator=gen)
            shown = torch.where(pick & (r < 0.8), torch.full_like(ids, mask_id), ids)
            noise = torch.randint(0, emb.num_embeddings, ids.shape, device=device, generator=gen)
            shown = torch.where(pick & (r >= 0.8) & (r < 0.9) & ~special[noise], noise, shown)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                hidden = model.encode(shown, attention)[pick]
                logits = head(hidden).float()
            loss = nn.functional.cross_entropy(logits, ids[pick])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total_loss += loss.detach() * int(pick.sum())
            masked += int(pick.sum())
        if epoch % cfg["eval_every"] == 0 or epoch == cfg["mlm_epochs"]:
            log.write(json.dumps({"mlmEpoch": epoch, "mlmLoss": float(total_loss) / max(masked, 1)}) + "\n")
            log.flush()


def symmetric_kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """½ (KL(p_a ‖ p_b) + KL(p_b ‖ p_a)) per text, averaged: R-Drop's consistency term."""
    la, lb = torch.log_softmax(a, -1), torch.log_softmax(b, -1)
    return 0.5 * ((la.exp() * (la - lb)).sum(-1) + (lb.exp() * (lb - la)).sum(-1)).mean()


def adversarial_tables(model: nn.Module) -> list[nn.Embedding]:
    """The tables a text's tokens index: every nn.Embedding but the transformer's positions."""
    positions = getattr(model, "position_embeddings", None)
    return [m for m in model.modules() if isinstance(m, nn.Embedding) and m is not positions]


def push_rows(tables: list[nn.Embedding], eps: float) -> list[torch.Tensor]:
    """FGM's perturbation, per row: eps × the table's RMS row norm along the row's gradient
    (rows the batch did not use have none and stay). Returns what was added, to take it back."""
    pushes = []
    with torch.no_grad():
        for t in tables:
            g = t.weight.grad
            if g is None:
                pushes.append(torch.zeros_like(t.weight))
                continue
            scale = eps * t.weight.pow(2).sum(1).mean().sqrt()
            r = scale * g / g.norm(dim=1, keepdim=True).clamp(min=1e-12)
            t.weight.add_(r)
            pushes.append(r)
    return pushes


def fit_rows(data: dict, fit: str) -> tuple[list[int], list[int] | None]:
    """Indices into train+validation (train first) that a fit trains on, and the held-out ones
    (fold fits: `fold:k/K` over train+validation, `trainfold:k/K` over train alone, the validation
    rows then untouched; a fixed seed-14 permutation, so that every member sees the same folds)."""
    n_train, n_val = len(data["train"]["y"]), len(data["validation"]["y"])
    if fit == "train":
        return list(range(n_train)), None
    if fit == "train+validation":
        return list(range(n_train + n_val)), None
    kind, spec = fit.split(":", 1)
    k, K = (int(x) for x in spec.split("/"))
    pool = n_train if kind == "trainfold" else n_train + n_val
    perm = np.random.default_rng(14).permutation(pool)
    held = sorted(perm[k::K].tolist())
    held_set = set(held)
    return [i for i in range(pool) if i not in held_set], held


def draw_variants(variants: torch.Tensor, rows: int, chance: float, gen: torch.Generator):
    """Which of a batch's `rows` texts take a variant (each with `chance`), and which of the K in
    `variants` [K, …] each would take. Every augmentation draws these two, in this order, so a fit's
    random stream is the same whichever code draws them."""
    use = torch.rand(rows, device=variants.device, generator=gen) < chance
    k = torch.randint(0, variants.shape[0], (rows,), device=variants.device, generator=gen)
    return use, k


def variant_matrix(per_row: list[list], rows: list[int], pad_id: int, max_len: int) -> torch.Tensor:
    """[K, len(rows), max_len]: the K variants of each of `rows` (row_variants' lists), padded."""
    return torch.stack([pad_matrix([per_row[i][k] for i in rows], pad_id, max_len) for k in range(len(per_row[0]))])


def row_variants(data: dict, key: str) -> list[list]:
    """Every train+validation row's (train first) variants under `key` of encoded.pt ("variants":
    typed, "swaps": neighbour words): row i → its k variants; [] when encoded.pt has none."""
    if key not in data["train"]:
        return []
    per_variant = [list(data["train"][key][k]) + list(data["validation"][key][k]) for k in range(len(data["train"][key]))]
    return [list(v) for v in zip(*per_variant)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True, help="holds encoded.pt and vocab.txt from the orchestrator")
    ap.add_argument("--name", required=True)
    ap.add_argument("--kind", choices=list(DEFAULTS), required=True)
    ap.add_argument("--config", default="{}")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fit", default="train", help="train | train+validation | fold:k/K (over train+validation) | trainfold:k/K (over train)")
    ap.add_argument("--key", default="", help="the orchestrator's fingerprint of this fit's data and settings (done.json)")
    args = ap.parse_args()

    work = Path(args.workdir)
    cfg = {**DEFAULTS[args.kind], **COMMON, **json.loads(args.config)}
    data = torch.load(work / "encoded.pt")
    vocab = (work / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    num_labels = len(data["labels"])
    pad_id, unk_id = vocab.index("[PAD]"), vocab.index("[UNK]")
    special = torch.zeros(len(vocab), dtype=torch.bool)
    for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"):
        special[vocab.index(t)] = True
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    set_seed(args.seed)
    gen = torch.Generator(device=device).manual_seed(args.seed)

    # Everything lives on the device as padded matrices: a step is a few tensor ops, no Python loop
    # over tokens (the 1.0.0 loop spent most of its time there).
    all_ids = list(data["train"]["ids"]) + list(data["validation"]["ids"])
    all_y = list(data["train"]["y"]) + list(data["validation"]["y"])
    all_var = row_variants(data, "variants")
    rows, held = fit_rows(data, args.fit)
    if cfg["drop"]:
        dropped = set(json.loads((REPO_ROOT / cfg["drop"]).read_text()))
        rows = [i for i in rows if i not in dropped]
    max_len = cfg["max_len"]
    X = pad_matrix([all_ids[i] for i in rows], pad_id, max_len).to(device)
    Y = torch.tensor([all_y[i] for i in rows], device=device)
    n_var = len(data["train"].get("variants", []))
    V = variant_matrix(all_var, rows, pad_id, max_len).to(device) \
        if n_var and cfg["typed_aug"] > 0 else None
    swaps = row_variants(data, "swaps")
    if cfg["swap_aug"] > 0 and not swaps:
        raise SystemExit("swap_aug needs neighbour-word variants: train.py --neighbours")
    if cfg["swap_aug"] > 0 and cfg["distill"] > 0:
        raise SystemExit("swap_aug with distill: the teacher has no view of the swapped texts")
    S = variant_matrix(swaps, rows, pad_id, max_len).to(device) \
        if cfg["swap_aug"] > 0 else None
    noise = pad_matrix(list(data["noise"]["train"]), pad_id, max_len).to(device) \
        if cfg["noise_rows"] > 0 and "noise" in data else None
    special = special.to(device)
    # distillation: the teacher's probabilities for the fit's rows, as written and typed
    T = load_teacher(work, all_y, n_var)[:, rows].to(device) if cfg["distill"] > 0 else None
    val_x, val_y = data["validation"]["ids"], np.asarray(data["validation"]["y"])

    word_vectors = load_word_vectors(work / "word_vectors.txt") if cfg.get("glove") else None
    model = build_model(args.kind, cfg, vocab, num_labels, word_vectors)
    if cfg["factored_head"]:
        FactoredHead.attach(model, data["labels"])
    model = model.to(device)
    out_dir = work / "members" / args.name
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "done.json").unlink(missing_ok=True)  # a fit killed part way must not look done

    n = len(rows)
    bs = cfg["batch"]
    steps_per_epoch = math.ceil(n / bs)
    total = steps_per_epoch * cfg["epochs"]
    warm = max(1, int(total * cfg["warmup"]))
    no_decay = [p for nme, p in model.named_parameters() if p.ndim < 2 or "norm" in nme]
    decay = [p for nme, p in model.named_parameters() if p.ndim >= 2 and "norm" not in nme]
    groups = [{"params": decay, "weight_decay": cfg["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        opt = torch.optim.AdamW(groups, lr=cfg["lr"], fused=device.type == "cuda")
    except (TypeError, RuntimeError):
        opt = torch.optim.AdamW(groups, lr=cfg["lr"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm))))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg["label_smoothing"])
    use_amp = device.type == "cuda"
    log = open(out_dir / "log.jsonl", "w")
    started = time.time()
    if args.kind == "transformer" and cfg["mlm_epochs"] > 0:
        mlm_pretrain(model, X, V, cfg, special, pad_id, vocab.index("[MASK]"), device, gen, log)
    ema = [p.detach().clone() for p in model.parameters()] if cfg["ema"] > 0 else None
    row = {}

    def swap_ema():
        if ema is not None:
            for p, e in zip(model.parameters(), ema):
                tmp = p.detach().clone()
                p.data.copy_(e)
                e.copy_(tmp)

    if args.kind == "linear":  # a convex fit instead of epochs (cfg["epochs"] is 0)
        fit = fit_linear(model, X, Y, V, noise, cfg, pad_id)
        row = {**fit, **summary(val_y, predict_probs(model, val_x, pad_id, device).argmax(1), num_labels),
               "seconds": round(time.time() - started, 1)}
        log.write(json.dumps(row) + "\n")
    if cfg["balance"] > 0:
        draw = torch.bincount(Y, minlength=num_labels).float()[Y] ** -cfg["balance"]
    tables = adversarial_tables(model) if cfg["adv_eps"] > 0 else []  # found once, not every step
    for epoch in range(1, cfg["epochs"] + 1):
        model.train()
        if cfg["balance"] > 0:
            perm = torch.multinomial(draw, n, replacement=True, generator=gen)
        else:
            perm = torch.randperm(n, device=device, generator=gen)
        total_loss = torch.zeros((), device=device)
        for start in range(0, n, bs):
            idx = perm[start : start + bs]
            ids = X[idx]
            soft = T[0, idx] if T is not None else None
            if S is not None:
                use, k = draw_variants(S, len(idx), cfg["swap_aug"], gen)
                ids = torch.where(use.unsqueeze(1), S[k, idx], ids)
            if V is not None:
                use, k = draw_variants(V, len(idx), cfg["typed_aug"], gen)
                ids = torch.where(use.unsqueeze(1), V[k, idx], ids)
                if soft is not None:  # the teacher's view of the same typed variant
                    soft = torch.where(use.unsqueeze(1), T[1 + k, idx], soft)
            if cfg["token_dropout"] > 0:
                drop = (torch.rand(ids.shape, device=device, generator=gen) < cfg["token_dropout"]) & ~special[ids]
                ids = torch.where(drop, torch.full_like(ids, unk_id), ids)
            b = len(idx)
            if noise is not None:
                ids = torch.cat([ids, noise[torch.randint(0, len(noise), (cfg["noise_rows"],), device=device, generator=gen)]])
            mask = (ids != pad_id).long()
            width = int(mask.sum(1).max())  # trim the batch to its longest row
            ids, mask = ids[:, :width], mask[:, :width]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = model(ids, mask).float()
                again = model(ids, mask).float() if cfg["rdrop"] > 0 else None
            loss = loss_fn(logits[:b], Y[idx])
            if again is not None:
                loss = 0.5 * (loss + loss_fn(again[:b], Y[idx])) + cfg["rdrop"] * symmetric_kl(logits[:b], again[:b])
            if soft is not None:
                distill_loss = -(soft * torch.log_softmax(logits[:b], -1)).sum(-1).mean()
                loss = (1 - cfg["distill"]) * loss + cfg["distill"] * distill_loss
            if noise is not None:
                # out-of-scope signal: gibberish should get a flat distribution (CE to uniform)
                loss = loss - cfg["noise_weight"] * torch.log_softmax(logits[b:], -1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg["adv_eps"] > 0:  # FGM: the same batch with its token rows pushed uphill
                pushes = push_rows(tables, cfg["adv_eps"])
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    pushed = model(ids[:b], mask[:b]).float()
                loss_fn(pushed, Y[idx]).backward()
                with torch.no_grad():
                    for t, r in zip(tables, pushes):
                        t.weight.sub_(r)
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            if ema is not None:
                with torch.no_grad():
                    torch._foreach_mul_(ema, cfg["ema"])
                    torch._foreach_add_(ema, [p.detach() for p in model.parameters()], alpha=1 - cfg["ema"])
            total_loss += loss.detach() * b
        if epoch % cfg["eval_every"] == 0 or epoch == cfg["epochs"]:
            swap_ema()
            val_pred = predict_probs(model, val_x, pad_id, device).argmax(1)
            swap_ema()
            row = {"epoch": epoch, "loss": float(total_loss) / n, **summary(val_y, val_pred, num_labels),
                   "seconds": round(time.time() - started, 1)}
            log.write(json.dumps(row) + "\n")
            log.flush()
    log.close()
    swap_ema()  # the kept weights are the EMA's when there is one
    FactoredHead.fold(model)  # one output layer again: what member.pt keeps and export sees
    outputs = {}
    if args.fit == "train" and cfg["distill"] == 0:
        # a possible teacher: its probabilities for every train+validation row, as written and typed
        # (on the GPU: ~40k rows; float16 keeps the file ~5 MB)
        views = [all_ids] + [[v[k] for v in all_var] for k in range(n_var)]
        outputs["teach"] = np.stack([predict_probs(model, r, pad_id, device) for r in views]).astype(np.float16)
    model = model.cpu()
    torch.save({"kind": args.kind, "config": cfg, "seed": args.seed, "fit": args.fit, "state": model.state_dict()},
               out_dir / "member.pt")
    if args.fit == "train":  # phase 1: what selection needs (validation, typed validation, noise)
        outputs["validation"] = predict_probs(model, val_x, pad_id, "cpu")
        for key in ("validation_typed", "noise_validation"):
            if key in data:
                outputs[key] = predict_probs(model, data[key]["ids"], pad_id, "cpu")
    elif held is not None:  # fold fit: out-of-fold probabilities (calibration, selection, fold teachers)
        outputs["heldout"] = predict_probs(model, [all_ids[i] for i in held], pad_id, "cpu")
        outputs["heldout_index"] = np.asarray(held)
        if args.fit.startswith("trainfold"):  # validation is held out from every fold: the teacher's own score
            outputs["validation"] = predict_probs(model, val_x, pad_id, "cpu")
        if "noise" in data:
            outputs["noise_validation"] = predict_probs(model, data["noise_validation"]["ids"], pad_id, "cpu")
    else:  # the shipped member
        outputs["test"] = predict_probs(model, data["test"]["ids"], pad_id, "cpu")
    np.savez(out_dir / "outputs.npz", **outputs)
    (out_dir / "done.json").write_text(json.dumps({
        "key": args.key,
        "params": count_params(model), "glove_hits": getattr(model, "glove_hits", None),
        "open_words": getattr(getattr(model, "open_vectors", None), "words", None),
        "final": row, "seconds": round(time.time() - started, 1)}))


if __name__ == "__main__":
    main()
