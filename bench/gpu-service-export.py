"""Exports a Hugging Face DistilBertForSequenceClassification folder (e.g. from
`training/make_tiny_distilbert.py --full`) to a gpu-service bundle with an fp16 variant only:
TorchScript ONNX export (opset 17, dynamic batch/sequence), onnxruntime transformers optimizer
(fused attention), fp16 weights with fp32 inputs/outputs, and a minimal valid bundle.json with
every sha256. For GPU benchmarks: the weights are random, so accuracy means nothing.

    python bench/gpu-service-export.py --hf DIR --out BUNDLE_DIR

Fused Attention: Hugging Face's DistilBERT builds its attention mask in a form onnxruntime's BERT
optimizer does not recognise (which form depends on the transformers version), so its export got
only BiasGelu and SkipLayerNormalization. The fix that made the default bundle fuse Attention is
the mask subgraph Unsqueeze → Unsqueeze → Cast → Sub → Mul (training/refuse_fp16.py rewrites old
graphs to it; training/intentql_training/models.py builds it directly). Here the same network is
rebuilt from the Hugging Face weights on models.py's SelfAttentionBlock (DistilBERT's own layout:
q/k/v/out, post-LN, GELU FFN) with that mask, and exported only if its logits match the Hugging
Face model's in PyTorch; otherwise the Hugging Face module is exported as before, with
refuse_fp16.rewrite_mask applied in case its graph has the old pattern. The fused operator counts
go to stderr, to the stdout JSON line and to bundle.json (variants.fp16.fusedOperators); with no
Attention fused, stderr also shows what feeds the first Softmax.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))

from export import LogitsOnly, export_onnx  # noqa: E402  (training/export.py: the bundles' own export)
from intentql_training.data import sha256_file as sha256  # noqa: E402
from intentql_training.models import SelfAttentionBlock  # noqa: E402

# Per SelfAttentionBlock submodule: its path inside a Hugging Face DistilBERT layer.
BLOCK_PARAMS = {
    "q_lin": "attention.q_lin",
    "k_lin": "attention.k_lin",
    "v_lin": "attention.v_lin",
    "out_lin": "attention.out_lin",
    "sa_layer_norm": "sa_layer_norm",
    "lin1": "ffn.lin1",
    "lin2": "ffn.lin2",
    "output_layer_norm": "output_layer_norm",
}


def log(message: str) -> None:
    print(f"gpu-service-export: {message}", file=sys.stderr, flush=True)


class FusableDistilBert(nn.Module):
    """DistilBertForSequenceClassification (eval) with the Hugging Face weights, on SelfAttentionBlock:
    word + position embeddings → LayerNorm → blocks → [CLS] → pre_classifier → ReLU → classifier."""

    def __init__(self, hf):
        super().__init__()
        cfg = hf.config
        if getattr(cfg, "activation", "gelu") != "gelu":
            raise ValueError(f"activation {cfg.activation!r}: SelfAttentionBlock has GELU")
        if getattr(cfg, "sinusoidal_pos_embds", False):
            raise ValueError("sinusoidal position embeddings")  # still a weight, but keep to the common case
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.dim)
        self.emb_norm = nn.LayerNorm(cfg.dim, eps=1e-12)
        self.blocks = nn.ModuleList(
            SelfAttentionBlock(cfg.dim, cfg.n_heads, cfg.hidden_dim, 0.0) for _ in range(cfg.n_layers))
        self.pre_classifier = nn.Linear(cfg.dim, cfg.dim)
        self.classifier = nn.Linear(cfg.dim, cfg.num_labels)
        theirs = {
            "word_embeddings.weight": "distilbert.embeddings.word_embeddings.weight",
            "position_embeddings.weight": "distilbert.embeddings.position_embeddings.weight",
            "emb_norm.weight": "distilbert.embeddings.LayerNorm.weight",
            "emb_norm.bias": "distilbert.embeddings.LayerNorm.bias",
            **{f"{n}.{t}": f"{n}.{t}" for n in ("pre_classifier", "classifier") for t in ("weight", "bias")},
        }
        for i in range(cfg.n_layers):
            for ours, hf_name in BLOCK_PARAMS.items():
                for t in ("weight", "bias"):
                    theirs[f"blocks.{i}.{ours}.{t}"] = f"distilbert.transformer.layer.{i}.{hf_name}.{t}"
        state = hf.state_dict()
        missing = [v for v in theirs.values() if v not in state]
        if missing:
            raise KeyError(f"not in the Hugging Face state dict: {missing[:4]}")
        self.load_state_dict({k: state[v] for k, v in theirs.items()}, strict=True)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.emb_norm(self.word_embeddings(input_ids) + self.position_embeddings(pos))
        # models.py's TransformerClassifier mask: Unsqueeze → Unsqueeze → Cast → Sub → Mul, the
        # pattern onnxruntime's optimizer fuses into Attention (-1e4 instead of HF's dtype minimum:
        # the same softmax wherever a row has a real token, and finite in fp16).
        additive = (1.0 - attention_mask.unsqueeze(1).unsqueeze(2).to(x.dtype)) * -10000.0
        for block in self.blocks:
            x = block(x, additive)
        return self.classifier(torch.relu(self.pre_classifier(x[:, 0])))


def parity(a: nn.Module, b: nn.Module, vocab_size: int) -> dict:
    """max |Δlogit| and argmax agreement of two modules on padded random batches (CPU, fp32)."""
    g = torch.Generator().manual_seed(0)
    deltas, agree, n, scale = [], 0, 0, 0.0
    with torch.no_grad():
        for batch, seq in ((1, 6), (8, 24), (16, 64)):
            ids = torch.randint(5, vocab_size, (batch, seq), generator=g)
            lengths = torch.randint(2, seq + 1, (batch,), generator=g)
            mask = (torch.arange(seq).unsqueeze(0) < lengths.unsqueeze(1)).long()
            ids = ids * mask  # padding id 0
            la, lb = a(ids, mask), b(ids, mask)
            deltas.append((la - lb).abs().max().item())
            scale = max(scale, la.abs().max().item())
            agree += (la.argmax(-1) == lb.argmax(-1)).sum().item()
            n += batch
    return {"maxAbsLogitDelta": max(deltas), "maxAbsLogit": scale, "argmaxAgreement": agree / n, "n": n}


def softmax_inputs(model, depth: int = 6, limit: int = 800) -> str:
    """The op types feeding the first Softmax, depth-first (constants left out): why Attention did not
    fuse, for the bench log."""
    producer = {o: node for node in model.graph.node for o in node.output}
    soft = next((node for node in model.graph.node if node.op_type == "Softmax"), None)
    if soft is None:
        return "no Softmax left"

    def walk(name: str, d: int) -> str:
        node = producer.get(name)
        if node is None:
            return name if name in {i.name for i in model.graph.input} else "const"
        if d == 0:
            return node.op_type
        parents = [walk(i, d - 1) for i in node.input if i]
        return f"{node.op_type}({', '.join(p for p in parents if p != 'const')})"

    text = walk(soft.input[0], depth)
    return text if len(text) <= limit else text[:limit] + "…"


def int32_inputs(model) -> list[str]:
    """Retypes the INT64 graph inputs to INT32 where the graph allows it: where every consumer of the
    input is a Cast to INT32 (the casts onnxruntime's optimizer puts in front of
    EmbedLayerNormalization, which takes int32), the casts are dropped and the input fed directly.
    Returns the inputs retyped ([] when some consumer needs int64: the graph does not allow it)."""
    from onnx import TensorProto

    wanted = [i for i in model.graph.input if i.type.tensor_type.elem_type == TensorProto.INT64]
    consumers = {i.name: [n for n in model.graph.node if i.name in n.input] for i in wanted}

    def casts_to_int32(node) -> bool:
        return node.op_type == "Cast" and any(a.name == "to" and a.i == TensorProto.INT32 for a in node.attribute)

    if not wanted or not all(nodes and all(casts_to_int32(n) for n in nodes) for nodes in consumers.values()):
        return []
    for graph_input in wanted:
        for cast in consumers[graph_input.name]:
            for node in model.graph.node:
                node.input[:] = [graph_input.name if x == cast.output[0] else x for x in node.input]
            for out in model.graph.output:
                if out.name == cast.output[0]:
                    return []  # a cast that is itself a graph output: leave the graph as it is
            model.graph.node.remove(cast)
        graph_input.type.tensor_type.elem_type = TensorProto.INT32
    return [i.name for i in wanted]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hf", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="distilbert-full-bench")
    args = ap.parse_args()
    import onnx
    import transformers
    from transformers import DistilBertForSequenceClassification

    from refuse_fp16 import rewrite_mask  # training/refuse_fp16.py: the mask fix for old graphs

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

    reference = LogitsOnly(hf).eval()
    graph = {"transformers": transformers.__version__, "torch": torch.__version__}
    try:
        module = FusableDistilBert(hf).eval()
        check = parity(reference, module, min(vocab_size, cfg.vocab_size))
        if not check["maxAbsLogitDelta"] <= 1e-3 * max(1.0, check["maxAbsLogit"]):  # also catches NaN
            raise ValueError(f"logits differ from Hugging Face's: {check}")
        graph.update({"source": "SelfAttentionBlock rebuild (training/intentql_training/models.py) of the HF weights",
                      "parityVsHf": check})
    except Exception as err:  # noqa: BLE001  (any mismatch with this transformers version: export HF's own)
        log(f"rebuild not used ({err}); exporting the Hugging Face module itself")
        module = reference
        graph["source"] = "Hugging Face DistilBertForSequenceClassification (eager)"
    log(f"exporting {graph['source']}" + (f", parity vs HF {graph['parityVsHf']}" if "parityVsHf" in graph else ""))

    fp32 = out.parent / f"{out.name}.fp32.onnx"  # outside the bundle: only fp16 is served
    export_onnx(module, fp32, vocab_size)
    exported = onnx.load(str(fp32))
    rewritten = rewrite_mask(exported)  # 0 unless the graph has the old Cast → Sub → Unsqueeze² → Mul mask
    if rewritten:
        onnx.checker.check_model(exported)
        onnx.save(exported, str(fp32))
        graph["rewrittenMasks"] = rewritten
        log(f"mask subgraph rewritten to the fusable pattern in {rewritten} place(s)")
    del exported
    from onnxruntime.transformers import optimizer

    opt = optimizer.optimize_model(str(fp32), model_type="bert", num_heads=cfg.n_heads, hidden_size=cfg.dim,
                                   opt_level=0, use_gpu=True)
    fused = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
    ops = collections.Counter(node.op_type for node in opt.model.graph.node)
    log("fused operators: " + (", ".join(f"{k}={v}" for k, v in sorted(fused.items())) or "none")
        + f"; unfused Softmax left: {ops.get('Softmax', 0)}; layers: {cfg.n_layers}")
    if fused.get("Attention", 0) + fused.get("MultiHeadAttention", 0) < cfg.n_layers:
        log(f"Attention NOT fused in every layer; the first Softmax is fed by: {softmax_inputs(opt.model)}")
    opt.convert_float_to_float16(keep_io_types=True)
    opt.save_model_to_file(str(out / "model.fp16.onnx"))
    # The same graph with int32 inputs, if it allows them, outside the bundle (the service's contract
    # is INT64 tensors): bench/gpu-host.sh measures the raw ceiling of both to see what int32 gains.
    try:
        narrow = onnx.load(str(out / "model.fp16.onnx"))
        retyped = int32_inputs(narrow)
        if retyped:
            onnx.checker.check_model(narrow)
            onnx.save(narrow, str(out.parent / f"{out.name}.fp16-int32.onnx"))
        log(f"int32 inputs: {', '.join(retyped) if retyped else 'not allowed by the graph'}")
        graph["int32Inputs"] = retyped
    except Exception as err:  # noqa: BLE001  (the int32 copy is a side measurement: never lose the bundle)
        log(f"int32 copy failed: {err}")
        graph["int32Inputs"] = f"failed: {err}"

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
                              "bytes": files["model.fp16.onnx"].stat().st_size, "fusedOperators": fused,
                              "unfusedSoftmax": ops.get("Softmax", 0), "graph": graph}},
        "defaultVariant": {"cpu": "fp16", "cuda": "fp16"},
        "files": [{"path": n, "sha256": sha256(p), "bytes": p.stat().st_size} for n, p in files.items()],
        "metrics": {},
    }
    (out / "bundle.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print(json.dumps({"step": "export", "bundle": str(out), "fused": fused, "unfusedSoftmax": ops.get("Softmax", 0),
                      "graph": graph.get("source"), "seconds": round(time.time() - t0, 1),
                      "fp16Bytes": files["model.fp16.onnx"].stat().st_size}))


if __name__ == "__main__":
    main()
