"""The typed-digits gap (issue 14): MASSIVE test utterances that contain number words, scored as
transcribed ("wake me up at seven thirty am") and as people type them ("wake me up at 7:30am").

    python training/typed_digits.py --write OUT.jsonl [--data data/massive-en/test.jsonl]
        # the typed set: {"text", "label_text", "spoken"} per utterance (also scorable with
        # `intentql predict --data OUT.jsonl`)
    python training/typed_digits.py --bundle models/massive-scratch [--variant fp32] [--data …]
        # accuracy on the spoken and on the typed form (onnxruntime + tokenizers)

The rewrite is `augment.typed_canonical`: number words → digits ("7am", "9:30pm", "22nd", "$5",
"25%", "106.9", "2016"); nothing else changes. Training uses the same converter with random forms
(augment.typed_variant), on train and validation texts only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.augment import has_number_words, typed_canonical  # noqa: E402
from intentql_training.data import load_jsonl  # noqa: E402


def typed_set(data: str | Path) -> list[dict]:
    return [{"text": typed_canonical(r.text), "label_text": r.intent, "spoken": r.text}
            for r in load_jsonl(data) if has_number_words(r.text)]


class OnnxBundle:
    """A bundle folder scored with onnxruntime on the CPU, tokenized like the edge (HF BertWordPiece)."""

    def __init__(self, folder: str | Path, variant: str = "fp32", threads: int = 0):
        import onnxruntime as ort

        from intentql_training.tokenization import Encoder

        self.folder = Path(folder)
        self.manifest = json.loads((self.folder / "bundle.json").read_text())
        self.labels = [l["name"] for l in json.loads((self.folder / "labels.json").read_text())]
        self.encoder = Encoder(self.folder / "vocab.txt", self.manifest.get("maxLength", 128))
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.folder / self.manifest["variants"][variant]["file"]), opts,
                                            providers=["CPUExecutionProvider"])
        cal = self.manifest.get("calibration") or {}
        self.temperature = float(cal.get("temperature", 1.0))
        self.threshold = float((cal.get("outOfScope") or {}).get("threshold", 0.0))

    def run_ids(self, rows: list[list[int]]) -> np.ndarray:
        s = max(len(r) for r in rows)
        ids = np.zeros((len(rows), s), dtype=np.int64) + self.encoder.pad_id
        mask = np.zeros((len(rows), s), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return self.session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0].astype(np.float32)

    def logits(self, texts: list[str], batch: int = 256) -> np.ndarray:
        rows = self.encoder.encode(texts)
        return np.concatenate([self.run_ids(rows[i : i + batch]) for i in range(0, len(rows), batch)])

    def calibrated_top(self, logits: np.ndarray) -> np.ndarray:
        z = logits / self.temperature
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        return (p / p.sum(1, keepdims=True)).max(1)

    def predict(self, texts: list[str]) -> list[str]:
        return [self.labels[i] for i in self.logits(texts).argmax(1)]


def gap(bundle: OnnxBundle, data: str | Path) -> dict:
    rows = typed_set(data)
    spoken = bundle.predict([r["spoken"] for r in rows])
    typed = bundle.predict([r["text"] for r in rows])
    gold = [r["label_text"] for r in rows]
    unk = bundle.encoder.unk_id
    typed_ids = bundle.encoder.encode([r["text"] for r in rows])
    acc_s = float(np.mean([p == g for p, g in zip(spoken, gold)]))
    acc_t = float(np.mean([p == g for p, g in zip(typed, gold)]))
    return {"n": len(rows), "spokenAccuracy": acc_s, "typedAccuracy": acc_t, "gapPoints": round(100 * (acc_s - acc_t), 2),
            "typedTextsWithUnk": int(sum(unk in r for r in typed_ids))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parent.parent / "data/massive-en/test.jsonl"))
    ap.add_argument("--write", help="write the typed set as JSONL")
    ap.add_argument("--bundle", action="append", default=[])
    ap.add_argument("--variant", default="fp32")
    args = ap.parse_args()
    if args.write:
        rows = typed_set(args.data)
        Path(args.write).write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"{len(rows)} typed utterances → {args.write}")
    for b in args.bundle:
        print(json.dumps({"bundle": b, "variant": args.variant, **gap(OnnxBundle(b, args.variant), args.data)}))


if __name__ == "__main__":
    main()
