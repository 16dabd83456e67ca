"""Rebuilds a bundle's fp16 variant with fused attention from its fp32 model.onnx.

Bundles exported before the attention-mask fix (models.py now builds the additive mask as
Unsqueeze → Cast → Sub → Mul) computed it as Cast → Sub → Unsqueeze → Unsqueeze → Mul, which is the
same arithmetic but a pattern onnxruntime's BERT optimizer does not recognise, so their fp16 graph had
no fused Attention. This rewrites that subgraph in place (no weight changes), then runs the same
optimizer + fp16 conversion as export.py. Parity is then measured where fp16 runs, on a GPU
(`bench/variant-parity.ts` on the GPU host).

    python training/refuse_fp16.py --bundle models/massive-scratch
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import onnx
from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intentql_training.data import sha256_file  # noqa: E402


def rewrite_mask(model: onnx.ModelProto) -> int:
    g = model.graph
    producers = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    rewritten = 0
    for cast in [n for n in g.node if n.op_type == "Cast" and n.input[0] == "attention_mask"]:
        for sub in [n for n in consumers.get(cast.output[0], []) if n.op_type == "Sub" and n.input[1] == cast.output[0]]:
            u1 = consumers.get(sub.output[0], [])
            if len(u1) != 1 or u1[0].op_type != "Unsqueeze":
                continue
            u2 = consumers.get(u1[0].output[0], [])
            if len(u2) != 1 or u2[0].op_type != "Unsqueeze":
                continue
            muls = consumers.get(u2[0].output[0], [])
            if len(muls) != 1 or muls[0].op_type != "Mul":
                continue
            u1, u2, mul = u1[0], u2[0], muls[0]
            to = next(a.i for a in cast.attribute if a.name == "to")
            new_u1 = helper.make_node("Unsqueeze", ["attention_mask", u1.input[1]], [f"{u1.output[0]}_m"], name=f"{u1.name}_m")
            new_u2 = helper.make_node("Unsqueeze", [new_u1.output[0], u2.input[1]], [f"{u2.output[0]}_m"], name=f"{u2.name}_m")
            new_cast = helper.make_node("Cast", [new_u2.output[0]], [f"{cast.output[0]}_m"], name=f"{cast.name}_m", to=to)
            new_sub = helper.make_node("Sub", [sub.input[0], new_cast.output[0]], [f"{sub.output[0]}_m"], name=f"{sub.name}_m")
            mul.input[list(mul.input).index(u2.output[0])] = new_sub.output[0]
            nodes = list(g.node)
            for dead in (sub, u1, u2):
                nodes.remove(dead)
            at = nodes.index(mul)
            nodes[at:at] = [new_u1, new_u2, new_cast, new_sub]
            del g.node[:]
            g.node.extend(nodes)
            rewritten += 1
    del producers
    return rewritten


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    args = ap.parse_args()
    from onnxruntime.transformers import optimizer

    bundle = Path(args.bundle)
    manifest = json.loads((bundle / "bundle.json").read_text())
    model = onnx.load(str(bundle / manifest["variants"]["fp32"]["file"]))
    n = rewrite_mask(model)
    if n == 0:
        raise SystemExit("no Cast → Sub → Unsqueeze → Unsqueeze → Mul mask found")
    onnx.checker.check_model(model)
    tmp = bundle / "model.fusable.tmp.onnx"
    onnx.save(model, str(tmp))
    opt = optimizer.optimize_model(str(tmp), model_type="bert", num_heads=0, hidden_size=0, opt_level=0, use_gpu=True)
    fused = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
    opt.convert_float_to_float16(keep_io_types=True)
    fp16 = bundle / manifest["variants"]["fp16"]["file"]
    opt.save_model_to_file(str(fp16))
    tmp.unlink()
    entry = manifest["variants"]["fp16"]
    entry.update({"sha256": sha256_file(fp16), "bytes": fp16.stat().st_size, "fusedOperators": fused})
    entry.pop("test", None)  # measured again on a GPU
    for f in manifest["files"]:
        if f["path"] == fp16.name:
            f.update({"sha256": entry["sha256"], "bytes": entry["bytes"]})
    (bundle / "bundle.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps({"rewrittenMasks": n, "fused": fused, "bytes": entry["bytes"]}))


if __name__ == "__main__":
    main()
