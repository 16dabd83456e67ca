"""Trains an IntentQL intent model bundle.

    python training/train.py --recipe scratch --data DIR --out WORKDIR   # the default bundle, no pretrained transformer
    python training/train.py --recipe seed --base distilbert-base-uncased --data DIR --out WORKDIR

The scratch recipe in two steps (each fits one 10-minute GPU-host call):
    python training/train.py --recipe scratch --stage sweep --data DIR --out W --word-vectors WV
        # phase 1 on train → W/selection.json (members, weights, τ) + W/vocab.txt
    python training/train.py --recipe scratch --stage final --selection selection.json --vocab vocab.txt \
        --data DIR --out W2 --word-vectors WV
        # phase 2 on train+validation + 4 calibration folds → temperature and out-of-scope threshold
        # from out-of-fold predictions → W2/final.json

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
from intentql_training.augment import has_number_words, noise_texts, typed_canonical, typed_variant  # noqa: E402
import random  # noqa: E402

TYPED_VARIANTS = 2  # typed variants per training text (member.COMMON["typed_aug"] picks one at random)

# The phase-1 sweep: every member trains on train and is judged on validation. Sizes are chosen
# so that a selected ensemble fits the bundle budget (fp32 + fp16 + int8 files ≤ 24 MB).
# Issue 14: every member (unless the config says otherwise) trains with typed-text augmentation and
# the gibberish → flat-distribution signal (member.COMMON); "-plain" members are the 1.0.0 recipe,
# an ablation that selection may not pick (selectable=False).
T192 = {"dim": 192, "layers": 3, "ffn": 384, "heads": 4}
T128 = {"dim": 128, "layers": 4, "ffn": 256, "heads": 4}
T256 = {"dim": 256, "layers": 2, "ffn": 512}
N64 = {"hidden": 64, "ngram_buckets": 4096, "char_buckets": 4096}
N32 = {"hidden": 32, "ngram_buckets": 4096, "char_buckets": 4096}
PLAIN = {"typed_aug": 0.0, "noise_rows": 0}
SCRATCH_SWEEP = [
    ("t192x3-s1", "transformer", T192, 1),
    ("t192x3-s2", "transformer", T192, 2),
    ("t192x3-s3", "transformer", T192, 3),
    ("t192x3-ema-s1", "transformer", {**T192, "ema": 0.999}, 1),
    ("t192x3-ema-s2", "transformer", {**T192, "ema": 0.999}, 2),
    ("t192x3-d15-s1", "transformer", {**T192, "dropout": 0.15, "token_dropout": 0.15}, 1),
    ("t192x3-e60-s1", "transformer", {**T192, "epochs": 60}, 1),
    ("t128x4-s1", "transformer", T128, 1),
    ("t128x4-s2", "transformer", T128, 2),
    ("t256x2-s1", "transformer", T256, 1),
    ("t256x2-s2", "transformer", T256, 2),
    ("n64-b4k-s1", "ngram", N64, 1),
    ("n64-b4k-s2", "ngram", N64, 2),
    ("n64-b4k-ema-s1", "ngram", {**N64, "ema": 0.999}, 1),
    ("n32-b4k-s1", "ngram", N32, 1),
    ("n32-b4k-s2", "ngram", N32, 2),
    ("t192x3-plain-s2", "transformer", {**T192, **PLAIN, "selectable": False}, 2),
    ("n64-b4k-plain-s1", "ngram", {**N64, **PLAIN, "selectable": False}, 1),
]
PARAM_BUDGET = 3_350_000  # ≈ 7 bytes a parameter over fp32+fp16+int8, plus the n-gram tables: ≤ 24 MiB


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_members(work: Path, specs: list[tuple], fit: str, parallel: int, timeout_s: int) -> None:
    _run(work, [(*spec, fit) for spec in specs], parallel, timeout_s)


def _run(work: Path, specs: list[tuple], parallel: int, timeout_s: int) -> None:
    """One process per member, `parallel` at a time: small models leave a GPU mostly idle, and
    separate processes are the simplest way to fill it."""
    pending = list(specs)
    running: list[tuple[str, subprocess.Popen]] = []
    deadline = time.time() + timeout_s
    here = Path(__file__).resolve().parent
    while pending or running:
        while pending and len(running) < parallel:
            name, kind, cfg, seed, fit = pending.pop(0)
            cmd = [sys.executable, "-m", "intentql_training.member", "--workdir", str(work.resolve()), "--name", name,
                   "--kind", kind, "--config", json.dumps(cfg), "--seed", str(seed), "--fit", fit]
            logf = open(work / f"member-{name}.stderr", "w")
            running.append((name, subprocess.Popen(cmd, cwd=here, stdout=logf, stderr=subprocess.STDOUT)))
        for name, proc in list(running):
            if proc.poll() is not None:
                running.remove((name, proc))
                status = "ok" if proc.returncode == 0 else f"FAILED rc={proc.returncode}"
                log(f"member {name}: {status}")
                if proc.returncode != 0:
                    print((work / f"member-{name}.stderr").read_text()[-3000:], flush=True)
        if time.time() > deadline:
            for name, proc in running:
                proc.kill()
                log(f"member {name}: killed at the time limit")
            break
        time.sleep(1)


def typed_variants(texts: list[str], seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[typed_variant(t, rng) for t in texts] for _ in range(TYPED_VARIANTS)]


def encode_all(work: Path, splits, encoder: Encoder, labels: list[dict]) -> None:
    index = {l["name"]: l["id"] for l in labels}
    data = {"labels": labels}
    for split in ("train", "validation", "test"):
        rows = getattr(splits, split)
        missing = sorted({r.intent for r in rows} - index.keys())
        if missing:
            raise SystemExit(f"{split} has intents that train lacks: {missing}")
        data[split] = {"ids": encoder.encode([r.text for r in rows]), "y": [index[r.intent] for r in rows]}
        if split != "test":
            data[split]["variants"] = [encoder.encode(v) for v in
                                       typed_variants([r.text for r in rows], 14 if split == "train" else 15)]
    # validation utterances with number words, typed with digits: the typed-digits gap on validation
    typed = [r for r in splits.validation if has_number_words(r.text)]
    data["validation_typed"] = {"ids": encoder.encode([typed_canonical(r.text) for r in typed]),
                                "plain_ids": encoder.encode([r.text for r in typed]),
                                "y": [index[r.intent] for r in typed]}
    # procedural gibberish: a training pool and a separate monitoring set (other seeds); the
    # out-of-scope evaluation set (training/oos_eval.jsonl) is hand-written and never trained on
    data["noise"] = {"train": encoder.encode(noise_texts(20000, seed=1))}
    data["noise_validation"] = {"ids": encoder.encode(noise_texts(1000, seed=2))}
    torch.save(data, work / "encoded.pt")


def softmax_top(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(1, keepdims=True)).max(1)


def prepare(args):
    """Vocab (train text + its typed variants), word vectors, encoded.pt. With --vocab, that vocab
    file is used as is (the final stage reuses the sweep's vocab)."""
    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    splits = load_splits(args.data)
    labels = label_table([r.intent for r in splits.train])
    if args.vocab:
        vocab_path = work / "vocab.txt"
        vocab_path.write_bytes(Path(args.vocab).read_bytes())
    else:
        texts = [r.text for r in splits.train]
        vocab_path = train_wordpiece(texts + [t for v in typed_variants(texts, 14) for t in v], work, args.vocab_size)
    log(f"vocab: {sum(1 for _ in open(vocab_path))} entries")
    if args.word_vectors:
        (work / "word_vectors.txt").write_bytes(Path(args.word_vectors).read_bytes())
    encoder = Encoder(vocab_path)
    encode_all(work, splits, encoder, labels)
    data = torch.load(work / "encoded.pt")
    counts = np.bincount(np.asarray(data["train"]["y"]), minlength=len(labels)).astype(np.float64)
    log_prior = np.log((counts + 1) / (counts + 1).sum())
    return work, splits, labels, data, log_prior


def smoke(args, sweep):
    if args.epochs_override:
        sweep = [(n, k, {**c, "epochs": args.epochs_override}, s) for n, k, c, s in sweep]
    if args.tiny:
        toy = {"transformer": {"dim": 32, "layers": 1, "ffn": 64, "heads": 2},
               "ngram": {"hidden": 8, "ngram_buckets": 1024, "char_buckets": 1024}}
        sweep = [(n, k, {**c, **toy[k]}, s) for n, k, c, s in sweep]
    return sweep


def sweep_stage(args, work, splits, labels, data, log_prior) -> dict:
    """Phase 1: the sweep on train, selection, τ on validation. Returns (and writes) selection.json."""
    num_labels = len(labels)
    sweep = SCRATCH_SWEEP[: args.max_members] if args.max_members else SCRATCH_SWEEP
    sweep = smoke(args, sweep)
    log(f"phase 1: {len(sweep)} members on train, {args.parallel} at a time")
    run_members(work, sweep, "train", args.parallel, args.member_timeout)
    gold_val = np.asarray(data["validation"]["y"])
    gold_typed = np.asarray(data["validation_typed"]["y"])
    probs, typed, noise, params, report = {}, {}, {}, {}, {}
    for name, kind, cfg, seed in sweep:
        d = work / "members" / name
        if not (d / "done.json").exists():
            continue
        done = json.loads((d / "done.json").read_text())
        out = np.load(d / "outputs.npz")
        report[name] = {**summary(gold_val, out["validation"].argmax(1), num_labels), "params": done["params"],
                        "typedAccuracy": float((out["validation_typed"].argmax(1) == gold_typed).mean()),
                        "noiseMeanTop": float(out["noise_validation"].max(1).mean()),
                        "gloveHits": done["glove_hits"], "seconds": done["seconds"], "kind": kind, "config": cfg,
                        "seed": seed}
        if cfg.get("selectable", True):
            probs[name], params[name] = out["validation"], done["params"]
            typed[name], noise[name] = out["validation_typed"], out["noise_validation"]
        r = report[name]
        log(f"  {name:22s} val acc {r['accuracy']:.4f} f1 {r['f1Macro']:.4f} typed {r['typedAccuracy']:.4f} "
            f"noise top {r['noiseMeanTop']:.3f} params {done['params']:,} ({done['seconds']}s)")
    if not probs:
        raise SystemExit("no member finished")
    chosen = greedy_select(list(probs), probs, params, gold_val, num_labels, args.param_budget)
    mix = combine([probs[n] for n in chosen], list(chosen.values()), log_prior, 0.0)
    tau = tune_tau(mix, log_prior, gold_val, num_labels)
    val_logits = mix - tau * log_prior
    val_metrics = summary(gold_val, val_logits.argmax(1), num_labels)
    typed_logits = combine([typed[n] for n in chosen], list(chosen.values()), log_prior, tau)
    val_metrics["typedDigits"] = {"n": int(len(gold_typed)),
                                  "typedAccuracy": float((typed_logits.argmax(1) == gold_typed).mean())}
    log(f"selected {chosen} tau={tau}: val {val_metrics}")
    log(f"  without logit adjustment: {summary(gold_val, mix.argmax(1), num_labels)}")
    specs = {n: (k, c, s) for n, k, c, s in sweep}
    selection = {"members": [{"name": n, "kind": specs[n][0], "config": specs[n][1], "seed": specs[n][2], "weight": w}
                             for n, w in chosen.items()],
                 "tau": tau, "validation": val_metrics, "sweep": report, "logPrior": log_prior.tolist()}
    (work / "selection.json").write_text(json.dumps(selection, indent=1))
    return selection


def final_stage(args, work, splits, labels, data, log_prior, selection) -> None:
    """Phase 2: the selected members refit on train+validation (the shipped model) and, for the
    calibration, K fold copies of each (train+validation minus one fold). Temperature and the
    out-of-scope threshold are fit on the fold ensembles' out-of-fold predictions, i.e. on held-out
    data of models trained like the shipped one, after the refit."""
    num_labels = len(labels)
    tau = selection["tau"]
    members = selection["members"]
    K = args.calibration_folds
    base = [(m["name"], m["kind"], m["config"], m["seed"]) for m in members]
    base = smoke(args, base)
    specs = [(f"{n}-final", k, c, s, "train+validation") for n, k, c, s in base]
    specs += [(f"{n}-fold{f}", k, c, s, f"fold:{f}/{K}") for f in range(K) for n, k, c, s in base]
    log(f"phase 2: {len(base)} members on train+validation, plus {K} calibration folds each: {len(specs)} fits")
    run_members_fits(work, specs, args.parallel, args.member_timeout)
    weights = [m["weight"] for m in members]

    # out-of-fold ensemble logits over train+validation
    n_all = len(data["train"]["y"]) + len(data["validation"]["y"])
    gold_all = np.asarray(list(data["train"]["y"]) + list(data["validation"]["y"]))
    oof = np.full((n_all, num_labels), np.nan)
    noise_tops = []
    for f in range(K):
        outs = [np.load(work / "members" / f"{m['name']}-fold{f}" / "outputs.npz") for m in members]
        idx = outs[0]["heldout_index"]
        oof[idx] = combine([o["heldout"] for o in outs], weights, log_prior, tau)
        noise_tops.append(combine([o["noise_validation"] for o in outs], weights, log_prior, tau))
    if np.isnan(oof).any():
        raise SystemExit("a calibration fold is missing")
    temperature = fit_temperature(oof, gold_all)
    oos = choose_oos_threshold(oof, gold_all, temperature, flag_rate=args.oos_flag_rate)
    oos["rule"] = (f"{args.oos_flag_rate:.0%} quantile of the calibrated top score on out-of-fold predictions "
                   f"({K}-fold cross-validation over train+validation, fold models trained like the shipped one)")
    oos = {k.replace("validation", "outOfFold", 1) if k.startswith("validation") else k: v for k, v in oos.items()}
    oos["crossValidationFolds"] = K
    noise_flag = float(np.mean([(softmax_top(z, temperature) < oos["threshold"]).mean() for z in noise_tops]))
    oos["syntheticNoiseFlaggedRate"] = noise_flag
    oof_metrics = summary(gold_all, oof.argmax(1), num_labels)
    log(f"calibration on {n_all} out-of-fold texts: T={temperature} {oos}; oof {oof_metrics}")

    gold_test = np.asarray(data["test"]["y"])
    names = [f"{m['name']}-final" for m in members]
    test_probs = [np.load(work / "members" / n / "outputs.npz")["test"] for n in names]
    test_logits = combine(test_probs, weights, log_prior, tau)
    test_metrics = summary(gold_test, test_logits.argmax(1), num_labels)
    log(f"test (scored once, final model): {test_metrics}")
    final = {
        "recipe": "scratch",
        "members": [{"name": n, "path": f"members/{n}/member.pt", "weight": w} for n, w in zip(names, weights)],
        "tau": tau,
        "logPrior": log_prior.tolist(),
        "labels": labels,
        "calibration": {"temperature": temperature, "outOfScope": oos},
        "metrics": {"validation": selection["validation"], "outOfFold": oof_metrics, "test": test_metrics,
                    "validationNote": "ensemble of the phase-1 members (trained on train only); the shipped members "
                                      "were refit on train+validation with the same settings"},
        "sweep": selection["sweep"],
        "finalFit": "train+validation",
        "data": splits.files,
        "vocabSize": sum(1 for _ in open(work / "vocab.txt")),
    }
    (work / "final.json").write_text(json.dumps(final, indent=1))
    log("wrote final.json")


def run_members_fits(work: Path, specs: list[tuple], parallel: int, timeout_s: int) -> None:
    """run_members for specs that each carry their own fit (name, kind, config, seed, fit)."""
    _run(work, list(specs), parallel, timeout_s)


def scratch(args) -> None:
    work, splits, labels, data, log_prior = prepare(args)
    if args.stage in ("all", "sweep"):
        selection = sweep_stage(args, work, splits, labels, data, log_prior)
    else:
        selection = json.loads(Path(args.selection).read_text())
    if args.stage in ("all", "final"):
        final_stage(args, work, splits, labels, data, log_prior, selection)


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
    ap.add_argument("--stage", choices=["all", "sweep", "final"], default="all",
                    help="scratch: sweep (phase 1 → selection.json), final (phase 2 + calibration folds, from --selection), or all")
    ap.add_argument("--selection", help="scratch --stage final: a selection.json from the sweep stage")
    ap.add_argument("--vocab", help="scratch: use this vocab.txt instead of training one (the sweep's, for --stage final)")
    ap.add_argument("--calibration-folds", type=int, default=4)
    ap.add_argument("--oos-flag-rate", type=float, default=0.05)
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
