"""Compacts the ONNX files of an existing bundle in place (export.compact_onnx: the graph is
unchanged, only names that nothing reads at run time go) and rewrites bundle.json's sha256 and byte
counts to match. Bundles that export.py writes now are compact already; this is for those written
before (1.1.0).

    python training/compact_bundle.py models/massive-scratch

Needs the `onnx` package only. That the outputs stay bit-identical is checked outside this script,
with the runtime the product uses (docs/MODEL.md, "Bundle size"):

    node --import tsx bench/variant-parity.ts --bundle NEW --against OLD --data data/massive-en/test.jsonl --provider cpu
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.data import sha256_file  # noqa: E402
from export import compact_onnx  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", help="a bundle folder (bundle.json and the ONNX files it names)")
    args = ap.parse_args()
    folder = Path(args.bundle)
    bundle = json.loads((folder / "bundle.json").read_text())
    for name, variant in bundle["variants"].items():
        path = folder / variant["file"]
        saved = compact_onnx(path)
        variant.update({"sha256": sha256_file(path), "bytes": path.stat().st_size})
        print(f"{name}: {variant['file']} {saved:,} bytes smaller, now {variant['bytes']:,}")
    for entry in bundle["files"]:
        path = folder / entry["path"]
        entry.update({"sha256": sha256_file(path), "bytes": path.stat().st_size})
    (folder / "bundle.json").write_text(json.dumps(bundle, indent=1, ensure_ascii=True) + "\n")
    total = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    print(f"bundle {folder}: {total:,} bytes")


if __name__ == "__main__":
    main()
