#!/usr/bin/env bash
# Fills a Triton model repository from a model bundle: copies the bundle's fp32 variant to
# <repo>/<name>/1/model.onnx after checking its sha256 against bundle.json.
# usage: infra/triton/prepare.sh [BUNDLE_DIR] [REPO_DIR] [VARIANT]
#   defaults: models/massive-scratch infra/triton fp32
#
# fp32, not fp16: the fp16 variant was fused by onnxruntime's transformers optimizer into com.microsoft
# ops (SkipLayerNormalization, BiasGelu, Attention) that only onnxruntime implements. While config.pbtxt
# enables the TensorRT accelerator, such a graph is refused here; TensorRT runs the fp32 graph in FP16.
set -euo pipefail
bundle="${1:-models/massive-scratch}"
repo="${2:-infra/triton}"
variant="${3:-fp32}"

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
config="$repo/$name/config.pbtxt"
if [[ ! -f "$config" ]]; then
  echo "no $config: write one (see infra/triton/massive-scratch/config.pbtxt)" >&2
  exit 1
fi

# TensorRT on: an uncommented `name: "tensorrt"` accelerator in config.pbtxt.
if grep -v '^[[:space:]]*#' "$config" | grep -Eq 'name:[[:space:]]*"tensorrt"'; then
  # A node or opset_import in the com.microsoft domain stores that domain as a plain protobuf string,
  # so its bytes appear in the file. A hit elsewhere (a doc string) only errs on the side of refusing.
  if LC_ALL=C grep -qaF 'com.microsoft' "$bundle/$file"; then
    echo "$bundle/$file ($variant) contains com.microsoft-domain ops, which TensorRT cannot run:" >&2
    echo "serve the fp32 variant (the default), or remove the tensorrt accelerator from $config" >&2
    exit 1
  fi
fi

install -d "$repo/$name/1"
cp "$bundle/$file" "$repo/$name/1/model.onnx"
echo "$repo/$name/1/model.onnx <- $bundle/$file ($variant, sha256 $sha)"
