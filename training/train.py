"""Trains an IntentQL intent model bundle.

    python training/train.py --recipe scratch --data DIR --out WORKDIR   # the default bundle, no pretrained transformer
    python training/train.py --recipe seed --base distilbert-base-uncased --data DIR --out WORKDIR

`--data` holds train/validation/test.jsonl (MASSIVE official layout or {"text","label_text"}).
Both recipes end in WORKDIR/final.pt + WORKDIR/final.json, which export.py turns into a bundle.
Validation picks every choice; test is scored once, on the model that is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.data import label_table, load_splits  # noqa: E402
from intentql_training.ensemble import (  # noqa: E402
    choose_oos_threshold, combine, fit_temperature, greedy_select, tune_tau)
from intentql_training.metrics import summary  # noqa: E402
from intentql_training.tokenization import Encoder, train_wordpiece  # noqa: E402

# The phase-1 sweep: every member trains on train and is judged on validation. Sizes are chosen
# so that a selected ensemble fits the bundle budget (fp32 + fp16 + int8 files ≤ 24 MB).
SCRATCH_SWEEP = [
    ("t256x2-s1", "transformer", {"dim": 256, "layers": 2, "ffn": 512}, 1),
    ("t256x2-s2", "transformer", {"dim": 256, "layers": 2, "ffn": 512}, 2),
    ("t192x3-s1", "transformer", {"dim": 192, "layers": 3, "ffn": 384, "heads": 4}, 1),
    ("t192x3-s2", "transformer", {"dim": 192, "layers": 3, "ffn": 384, "heads": 4}, 2),
    ("t128x4-s1", "transformer", {"dim": 128, "layers": 4, "ffn": 256, "heads": 4}, 1),
    ("t256x2-lr1e3-s1", "transformer", {"dim": 256, "layers": 2, "ffn": 512, "lr": 1e-3}, 1),
    ("t256x2-noglove-s1", "transformer", {"dim": 256, "layers": 2, "ffn": 512, "glove": False}, 1),
    ("t192x3-e60-s1", "transformer", {"dim": 192, "layers": 3, "ffn": 384, "epochs": 60}, 1),
    ("n32-s1", "ngram", {"hidden": 32, "ngram_buckets": 8192, "char_buckets": 8192}, 1),
    ("n32-s2", "ngram", {"hidden": 32, "ngram_buckets": 8192, "char_buckets": 8192}, 2),
    ("n64-b4k-s1", "ngram", {"hidden": 64, "ngram_buckets": 4096, "char_buckets": 4096}, 1),
    ("n32-lr1e2-s1", "ngram", {"hidden": 32, "ngram_buckets": 8192, "char_buckets": 8192, "lr": 1e-2}, 1),
]
PARAM_BUDGET = 3_200_000


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_members(work: Path, specs: list[tuple], fit: str, parallel: int, timeout_s: int) -> None:
    """One process per member, `parallel` at a time: small models leave a GPU mostly idle, and
    separate processes are the simplest way to fill it."""
    pending = list(specs)
    running: list[tuple[str, subprocess.Popen]] = []
    deadline = time.time() + timeout_s
    here = Path(__file__).resolve().parent
    while pending or running:
        while pending and len(running) < parallel:
            name, kind, cfg, seed = pending.pop(0)
            cmd = [sys.executable, "-m", "intentql_training.member", "--workdir", str(work), "--name", name,
                   "--kind", kind, "--config", json.dumps(cfg), "--seed", str(seed), "--fit", fit]
            logf = open(work / f"member-{name}.stderr", "w")
            running.append((name, subprocess.Popen(cmd, cwd=here, stdout=logf, stderr=subprocess.STDOUT)))
        for name, proc in list(running):
            if proc.poll() is not None:
                running.remove((name, proc))
                status = "ok" if proc.returncode == 0 else f"FAILED rc={proc.returncode}"
                log(f"member {name} ({fit}): {status}")
                if proc.returncode != 0:
                    print((work / f"member-{name}.stderr").read_text()[-3000:], flush=True)
        if time.time() > deadline:
            for name, proc in running:
                proc.kill()
                log(f"member {name}: killed at the time limit")
            break
        time.sleep(1)


def encode_all(work: Path, splits, encoder: Encoder, labels: list[dict]) -> None:
    index = {l["name"]: l["id"] for l in labels}
    data = {"labels": labels}
    for split in ("train", "validation", "test"):
        rows = getattr(splits, split)
        missing = sorted({r.intent for r in rows} - index.keys())
        if missing:
            raise SystemExit(f"{split} has intents that train lacks: {missing}")
        data[split] = {"ids": encoder.encode([r.text for r in rows]), "y": [index[r.intent] for r in rows]}
    torch.save(data, work / "encoded.pt")


def scratch(args) -> None:
    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    splits = load_splits(args.data)
    labels = label_table([r.intent for r in splits.train])
    vocab_path = train_wordpiece([r.text for r in splits.train], work, args.vocab_size)
    log(f"vocab: {sum(1 for _ in open(vocab_path))} entries")
    if args.word_vectors:
        (work / "word_vectors.txt").write_bytes(Path(args.word_vectors).read_bytes())
    encoder = Encoder(vocab_path)
    encode_all(work, splits, encoder, labels)
    num_labels = len(labels)
    sweep = SCRATCH_SWEEP[: args.max_members] if args.max_members else SCRATCH_SWEEP
    if args.epochs_override:
        sweep = [(n, k, {**c, "epochs": args.epochs_override}, s) for n, k, c, s in sweep]
    if args.tiny:
        toy = {"transformer": {"dim": 32, "layers": 1, "ffn": 64, "heads": 2},
               "ngram": {"hidden": 8, "ngram_buckets": 1024, "char_buckets": 1024}}
        sweep = [(n, k, {**c, **toy[k]}, s) for n, k, c, s in sweep]

    log(f"phase 1: {len(sweep)} members on train, {args.parallel} at a time")
    run_members(work, sweep, "train", args.parallel, args.member_timeout)
    data = torch.load(work / "encoded.pt")
    gold_val = np.asarray(data["validation"]["y"])
    counts = np.bincount(np.asarray(data["train"]["y"]), minlength=num_labels).astype(np.float64)
    log_prior = np.log((counts + 1) / (counts + 1).sum())

    probs, params, report = {}, {}, {}
    for name, *_ in sweep:
        d = work / "members" / name
        if not (d / "done.json").exists():
            continue
        done = json.loads((d / "done.json").read_text())
        probs[name] = np.load(d / "outputs.npz")["validation"]
        params[name] = done["params"]
        report[name] = {**summary(gold_val, probs[name].argmax(1), num_labels), "params": done["params"],
                        "gloveHits": done["glove_hits"], "seconds": done["seconds"]}
        log(f"  {name:22s} val acc {report[name]['accuracy']:.4f} f1 {report[name]['f1Macro']:.4f} "
            f"params {done['params']:,} ({done['seconds']}s)")
    if not probs:
        raise SystemExit("no member finished")

    chosen = greedy_select(list(probs), probs, params, gold_val, num_labels, args.param_budget)
    mix = combine([probs[n] for n in chosen], list(chosen.values()), log_prior, 0.0)
    tau = tune_tau(mix, log_prior, gold_val, num_labels)
    val_logits = mix - tau * log_prior
    temperature = fit_temperature(val_logits, gold_val)
    oos = choose_oos_threshold(val_logits, gold_val, temperature)
    val_metrics = summary(gold_val, val_logits.argmax(1), num_labels)
    log(f"selected {chosen} tau={tau} T={temperature}: val {val_metrics}")
    log(f"  without logit adjustment: {summary(gold_val, mix.argmax(1), num_labels)}")

    final_specs = [s for s in sweep if s[0] in chosen]
    member_dir = "members"
    if args.final_fit == "train+validation":
        log("phase 2: the selected members again, on train+validation, same configs and seeds")
        final_specs = [(f"{n}-final", k, c, s) for n, k, c, s in final_specs]
        run_members(work, final_specs, "train+validation", args.parallel, args.member_timeout)
    weights = {spec[0]: chosen[spec[0].removesuffix("-final")] for spec in final_specs}

    gold_test = np.asarray(data["test"]["y"])
    test_probs = [np.load(work / member_dir / n / "outputs.npz")["test"] for n in weights]
    test_logits = combine(test_probs, list(weights.values()), log_prior, tau)
    test_metrics = summary(gold_test, test_logits.argmax(1), num_labels)
    log(f"test (scored once, final model): {test_metrics}")

    final = {
        "recipe": "scratch",
        "members": [{"name": n, "path": f"{member_dir}/{n}/member.pt", "weight": w} for n, w in weights.items()],
        "tau": tau,
        "logPrior": log_prior.tolist(),
        "labels": labels,
        "calibration": {"temperature": temperature, "outOfScope": oos},
        "metrics": {"validation": val_metrics, "test": test_metrics,
                    "validationNote": "ensemble of the phase-1 members (trained on train only)"
                    + ("; the shipped members were refit on train+validation with the same settings"
                       if args.final_fit == "train+validation" else "")},
        "sweep": report,
        "finalFit": args.final_fit,
        "data": splits.files,
        "vocabSize": args.vocab_size,
    }
    (work / "final.json").write_text(json.dumps(final, indent=1))
    log("wrote final.json")


def seed_recipe(args) -> None:
    """The seed model card's recipe: distilbert-base-uncased + LoRA (peft), merged before export."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    splits = load_splits(args.data)
    labels = label_table([r.intent for r in splits.train])
    index = {l["name"]: l["id"] for l in labels}
    tok = AutoTokenizer.from_pretrained(args.base)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.base, num_labels=len(labels), id2label={l["id"]: l["name"] for l in labels}, label2id=index)
    lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16, lora_dropout=0.05,
                      target_modules=["q_lin", "v_lin"], bias="none")
    model = get_peft_model(model, lora)
    model.print_trainable_parameters()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)

    def batches(rows, bs, shuffle, gen=None):
        order = torch.randperm(len(rows), generator=gen).tolist() if shuffle else list(range(len(rows)))
        for i in range(0, len(order), bs):
            chunk = [rows[j] for j in order[i : i + bs]]
            enc = tok([r.text for r in chunk], truncation=True, max_length=128, padding=True, return_tensors="pt")
            yield enc.to(device), torch.tensor([index[r.intent] for r in chunk], device=device)

    epochs, bs = args.seed_epochs, 32
    steps = epochs * ((len(splits.train) + bs - 1) // bs)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.05 * steps), steps)
    gen = torch.Generator().manual_seed(args.seed)
    best_f1, history = -1.0, []
    for epoch in range(1, epochs + 1):
        model.train()
        for enc, y in batches(splits.train, bs, True, gen):
            # DistilBERT takes no token_type_ids, which BERT-style tokenizers may return
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
            loss = torch.nn.functional.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        preds, gold = [], []
        with torch.no_grad():
            for enc, y in batches(splits.validation, 256, False):
                logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
                preds.append(logits.argmax(-1).cpu())
                gold.append(y.cpu())
        p, g = torch.cat(preds).numpy(), torch.cat(gold).numpy()
        row = {"epoch": epoch, **summary(g, p, len(labels))}
        history.append(row)
        log(f"seed epoch {epoch}: {row}")
        if row["f1Macro"] > best_f1:  # the card keeps the best checkpoint by F1-macro
            best_f1 = row["f1Macro"]
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, work / "best_adapter.pt")
    model.load_state_dict(torch.load(work / "best_adapter.pt"))
    merged = model.merge_and_unload()
    merged.save_pretrained(work / "merged")
    tok.save_pretrained(work / "merged")
    vocab_src = Path(args.base) / "vocab.txt" if Path(args.base).exists() else None
    vocab_file = work / "vocab.txt"
    if vocab_src and vocab_src.exists():
        vocab_file.write_bytes(vocab_src.read_bytes())
    else:
        tok.save_vocabulary(str(work))
    final = {"recipe": "seed", "base": args.base, "hf_dir": "merged", "labels": labels, "history": history,
             "metrics": {"validation": max(history, key=lambda r: r["f1Macro"])}, "data": splits.files}
    (work / "final.json").write_text(json.dumps(final, indent=1))
    log("wrote final.json (seed recipe, merged LoRA)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", choices=["scratch", "seed"], required=True)
    ap.add_argument("--data", required=True, help="folder with train/validation/test.jsonl")
    ap.add_argument("--out", required=True, help="work folder")
    ap.add_argument("--word-vectors", help="word2vec-style text file (word v1 … v100), e.g. from extract-word-vectors")
    ap.add_argument("--vocab-size", type=int, default=6000)
    ap.add_argument("--parallel", type=int, default=int(os.environ.get("INTENTQL_TRAIN_PARALLEL", "12")))
    ap.add_argument("--member-timeout", type=int, default=420)
    ap.add_argument("--param-budget", type=int, default=PARAM_BUDGET)
    ap.add_argument("--final-fit", choices=["train", "train+validation"], default="train+validation")
    ap.add_argument("--max-members", type=int, default=0, help="smoke tests: only the first N sweep members")
    ap.add_argument("--tiny", action="store_true", help="smoke tests: toy sizes for every member")
    ap.add_argument("--epochs-override", type=int, default=0, help="smoke tests: epochs for every member")
    ap.add_argument("--base", default="distilbert-base-uncased", help="seed recipe: hub name or local folder")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--seed-epochs", type=int, default=10)
    args = ap.parse_args()
    scratch(args) if args.recipe == "scratch" else seed_recipe(args)


if __name__ == "__main__":
    main()
