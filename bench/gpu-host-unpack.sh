#!/usr/bin/env bash
# On the GPU host: reassembles the parts written by bench/gpu-host-pack.sh, checks them against
# SHA256, extracts node + onnxruntime-node (with the CUDA provider) to /tmp/gpu-host and writes
# /tmp/gpu-host/env.sh, which puts node on PATH, points NODE_PATH at the onnxruntime-node
# node_modules and adds the host's CUDA 13 / cuDNN 9 libraries (from the pip `nvidia-*` wheels
# and torch/lib of its python) to LD_LIBRARY_PATH. No network needed.
#
#   bash bench/gpu-host-unpack.sh /tmp/parts && source /tmp/gpu-host/env.sh
#
# Parts may arrive over several calls: with some still missing it says which and exits 3, leaving
# what arrived in place. Env: GPU_HOST_DIR (default /tmp/gpu-host) is where the tree goes;
# PYTHON (default python, else python3) is the python whose site-packages hold the CUDA libraries;
# GPU_HOST_SMOKE=0 skips the final check (a one-row CUDA inference when nvidia-smi is present,
# a CPU one otherwise).
set -euo pipefail
PARTS=${1:-/tmp/parts}
DEST=${GPU_HOST_DIR:-/tmp/gpu-host}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "gpu-host-unpack: $*" >&2; }
die() { log "$*"; exit 1; }

[[ -f $PARTS/SHA256 ]] || die "$PARTS/SHA256 missing: it travels with the first part"
# SHA256: "<sha>  gpu-host.tar.xz", then "<sha>  gpu-host.partN" per part.
mapfile -t WANT < <(awk '$2 ~ /^gpu-host\.part[0-9]+$/ {print $2}' "$PARTS/SHA256" | sort -V)
ARCHIVE_SHA=$(awk '$2 == "gpu-host.tar.xz" {print $1}' "$PARTS/SHA256")
[[ ${#WANT[@]} -gt 0 && -n $ARCHIVE_SHA ]] || die "$PARTS/SHA256 lists no parts or no archive"
MISSING=()
for p in "${WANT[@]}"; do [[ -f $PARTS/$p ]] || MISSING+=("$p"); done
if ((${#MISSING[@]})); then
  log "have $((${#WANT[@]} - ${#MISSING[@]}))/${#WANT[@]} parts; missing: ${MISSING[*]} (send them, then run again)"
  exit 3
fi
(cd "$PARTS" && grep -E '  gpu-host\.part[0-9]+$' SHA256 | sha256sum --quiet -c -) || die "a part is corrupt (see above)"

# Reassemble into a temp file next to DEST, check, extract into a fresh folder, then swap it in
# (skipped when DEST already holds this very archive: a second run only rewrites env.sh).
mkdir -p "$(dirname "$DEST")"
if [[ -x $DEST/bin/node && -f $DEST/ARCHIVE_SHA256 && $(cat "$DEST/ARCHIVE_SHA256") == "$ARCHIVE_SHA" ]]; then
  log "$DEST already holds archive $ARCHIVE_SHA"
else
  TMP=$(mktemp -d "$(dirname "$DEST")/.gpu-host-unpack.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  for p in "${WANT[@]}"; do cat "$PARTS/$p"; done >"$TMP/gpu-host.tar.xz"
  GOT=$(sha256sum "$TMP/gpu-host.tar.xz" | cut -d' ' -f1)
  [[ $GOT == "$ARCHIVE_SHA" ]] || die "reassembled archive sha256 $GOT, SHA256 says $ARCHIVE_SHA"
  mkdir "$TMP/tree"
  if type -P xz >/dev/null; then
    tar -C "$TMP/tree" -xJf "$TMP/gpu-host.tar.xz"
  else # no xz binary: python's lzma + tarfile do the same
    PY=${PYTHON:-$(type -P python || type -P python3)} || die "neither xz nor python to extract with"
    "$PY" -c 'import sys, tarfile
kw = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2], **kw)' \
      "$TMP/gpu-host.tar.xz" "$TMP/tree"
  fi
  rm -f "$TMP/gpu-host.tar.xz"
  echo "$GOT" >"$TMP/tree/ARCHIVE_SHA256"
  rm -rf "$DEST"
  mv "$TMP/tree" "$DEST"
  log "extracted to $DEST (archive sha256 $GOT)"
fi

# CUDA / cuDNN libraries of the host's python: every nvidia/*/lib of the pip wheels, and torch/lib.
if [[ -z ${PYTHON:-} ]]; then
  if type -P python >/dev/null; then PYTHON=python; elif type -P python3 >/dev/null; then PYTHON=python3; fi
fi
LIBDIRS=""
if [[ -n ${PYTHON:-} ]]; then
  LIBDIRS=$("$PYTHON" - <<'EOF' || true
import glob, importlib.util, os, site, sys

dirs = []
def add(d):
    d = os.path.realpath(d)
    if os.path.isdir(d) and d not in dirs:
        dirs.append(d)

roots = []
try:
    import nvidia  # namespace package of the nvidia-* wheels (cublas, cuda_runtime, cudnn, ...)
    roots += list(nvidia.__path__)
except Exception as err:  # noqa: BLE001
    print(f"gpu-host-unpack: import nvidia failed: {err}", file=sys.stderr)
search = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
search += [site.getusersitepackages()] + [p for p in sys.path if p.endswith("-packages")]
roots += [os.path.join(p, "nvidia") for p in search]
for root in roots:
    for lib in sorted(glob.glob(os.path.join(root, "*", "lib"))):
        add(lib)  # also nvidia/cu13/lib, where the CUDA 13 wheels put theirs
spec = importlib.util.find_spec("torch")  # without importing torch (slow)
if spec and spec.submodule_search_locations:
    for loc in spec.submodule_search_locations:
        add(os.path.join(loc, "lib"))
print(":".join(dirs))
EOF
  )
else
  log "no python found: LD_LIBRARY_PATH gets no CUDA libraries"
fi
log "library folders from ${PYTHON:-no python}:"
IFS=: read -r -a DIRS <<<"$LIBDIRS"
for d in "${DIRS[@]}"; do [[ -n $d ]] && log "  $d"; done

# Which of the provider's libraries resolve there (libcuda.so.1 comes from the driver).
find_lib() { # soname -> path or empty
  local d
  for d in "${DIRS[@]}"; do [[ -n $d && -e $d/$1 ]] && { echo "$d/$1"; return; }; done
  ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n {print $NF; exit}'
}
for so in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudnn.so.9 libcuda.so.1; do
  where=$(find_lib "$so")
  log "  $(printf '%-18s' "$so") ${where:-NOT FOUND}"
done

if [[ -n $LIBDIRS ]]; then
  LDLINE="export LD_LIBRARY_PATH=\"$LIBDIRS\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""
else
  LDLINE="# no CUDA library folders found under ${PYTHON:-python}: LD_LIBRARY_PATH left alone"
fi
cat >"$DEST/env.sh" <<EOF
# Written by bench/gpu-host-unpack.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ): node + onnxruntime-node with the CUDA provider.
export PATH="$DEST/bin:\${PATH:-/usr/bin:/bin}"
export NODE_PATH="$DEST/node_modules"
$LDLINE
EOF
log "wrote $DEST/env.sh"
# shellcheck source=/dev/null
source "$DEST/env.sh"
log "node $(node --version); $(node -p 'const b=require(process.env.NODE_PATH+"/../BUILD.json"); b.node+", onnxruntime-node "+b.onnxruntimeNode+", "+b.note')"
BINDING="$DEST/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
if type -P ldd >/dev/null; then
  NOTFOUND=$(ldd "$BINDING/libonnxruntime_providers_cuda.so" 2>&1 | awk '/not found/ {print $1}' | tr '\n' ' ')
  log "ldd of the CUDA provider: ${NOTFOUND:+not found: }${NOTFOUND:-every library resolves}"
fi

# Smoke check: onnxruntime-node loads; one inference of the default bundle's model, on CUDA when
# this host has a GPU. Failures are reported, not fatal: the bench itself reports per step.
[[ ${GPU_HOST_SMOKE:-1} == 0 ]] && exit 0
EP=cpu
type -P nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && EP=cuda
MODEL="$ROOT/models/massive-scratch/model.onnx"
[[ -f $MODEL ]] || { log "smoke: $MODEL missing, skipped"; exit 0; }
# From $DEST, so that onnxruntime-node resolves through NODE_PATH as on the host, never from a
# node_modules of the working tree.
(cd "$DEST" && timeout 120 node - "$MODEL" "$EP") <<'EOF' || log "smoke check FAILED ($EP)"
const ort = require("onnxruntime-node");
console.error(`gpu-host-unpack: smoke: onnxruntime-node from ${require.resolve("onnxruntime-node")}`);
const [model, ep] = process.argv.slice(2);
(async () => {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(model, { executionProviders: [ep] });
  const seq = 8n, ids = [101n, 2054n, 2003n, 1996n, 4633n, 2651n, 102n, 0n];
  const feeds = {};
  for (const name of session.inputNames)
    feeds[name] = new ort.Tensor("int64", BigInt64Array.from(name === "input_ids" ? ids : ids.map((v) => (v ? 1n : 0n))), [1, Number(seq)]);
  const out = await session.run(feeds);
  const logits = out[session.outputNames[0]];
  console.error(`gpu-host-unpack: smoke ${ep}: onnxruntime-node ${ort.env.versions.common}, logits ${JSON.stringify(logits.dims)}, ` +
    `finite ${logits.data.every(Number.isFinite)}, ${(performance.now() - t0).toFixed(0)} ms`);
})().catch((err) => { console.error(`gpu-host-unpack: smoke ${ep}: ${err.message}`); process.exit(1); });
EOF
