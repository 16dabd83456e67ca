#!/usr/bin/env bash
# Fills a Triton model repository from a model bundle: copies the bundle's fp16 variant to
# <repo>/<name>/1/model.onnx after checking its sha256 against bundle.json.
# usage: infra/triton/prepare.sh [BUNDLE_DIR] [REPO_DIR] [VARIANT]
#   defaults: models/massive-scratch infra/triton fp16
set -euo pipefail
bundle="${1:-models/massive-scratch}"
repo="${2:-infra/triton}"
variant="${3:-fp16}"

read -r name file sha < <(node -e '
  const b = JSON.parse(require("fs").readFileSync(process.argv[1] + "/bundle.json", "utf8"));
  const v = b.variants[process.argv[2]];
  if (!v) { console.error(`bundle has no variant ${process.argv[2]}`); process.exit(1); }
  console.log(b.name, v.file, v.sha256);
' "$bundle" "$variant")

actual="$(sha256sum "$bundle/$file" | cut -d" " -f1)"
if [[ "$actual" != "$sha" ]]; then
  echo "sha256 mismatch for $bundle/$file: bundle.json says $sha, file is $actual" >&2
  exit 1
fi
if [[ ! -f "$repo/$name/config.pbtxt" ]]; then
  echo "no $repo/$name/config.pbtxt: write one (see infra/triton/massive-scratch/config.pbtxt)" >&2
  exit 1
fi
install -d "$repo/$name/1"
cp "$bundle/$file" "$repo/$name/1/model.onnx"
echo "$repo/$name/1/model.onnx <- $bundle/$file ($variant, sha256 $sha)"
