#!/usr/bin/env node
/**
 * The ONNX Runtime CUDA execution provider of the gpu-service image, pinned and checked.
 *
 *   node cuda-provider.mjs pin DIR      DIR holds `npm ci` of this folder: write cuda-provider.json
 *                                       (sha256 and the DT_NEEDED libraries of every provider .so)
 *   node cuda-provider.mjs install DIR  in the image build: refuse unless every .so matches the
 *                                       pinned sha256, then copy them next to onnxruntime-node's binding
 *   node cuda-provider.mjs check DIR    in the runtime stage: refuse unless `ldd` resolves every
 *                                       library but the driver's libcuda.so.1, and cuDNN 9 (loaded
 *                                       with dlopen, so not in DT_NEEDED) is on the loader path
 *
 * Why: onnxruntime-node's own postinstall fetches the provider from NuGet at install time, with no
 * hash and a CUDA major that its flag name ("cuda12") no longer tells. Here the provider comes from
 * the npm lockfile (sha512), is pinned again per file, and an image whose CUDA runtime does not match
 * the provider fails to build instead of restart-looping on the GPU host.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const HERE = import.meta.dirname;
const MANIFEST = join(HERE, "cuda-provider.json");
const PROVIDER_PACKAGE = "com.github.asus4.onnxruntime.linux-x64-gpu";
const PROVIDER_DIR = `node_modules/${PROVIDER_PACKAGE}/Plugins/Linux/x64`;
const BINDING_DIR = "node_modules/onnxruntime-node/bin/napi-v6/linux/x64";
const LIBS = ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"];
/** Supplied by the host's driver through the NVIDIA container toolkit, never by the image. */
const FROM_DRIVER = new Set(["libcuda.so.1"]);

const sha256 = (file) => createHash("sha256").update(readFileSync(file)).digest("hex");
const fail = (message) => {
  process.stderr.write(`cuda-provider: ${message}\n`);
  process.exit(1);
};

function pin(dir) {
  const version = (name) =>
    JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")).version;
  const libs = {};
  for (const lib of LIBS) {
    const file = join(dir, PROVIDER_DIR, lib);
    const dynamic = execFileSync("readelf", ["-d", file], { encoding: "utf8" });
    const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    libs[lib] = { sha256: sha256(file), needed };
  }
  const cudart = libs["libonnxruntime_providers_cuda.so"].needed.find((n) => n.startsWith("libcudart.so."));
  if (!cudart) fail("the CUDA provider links no libcudart: not a CUDA build?");
  const manifest = {
    package: `${PROVIDER_PACKAGE}@${version(PROVIDER_PACKAGE)}`,
    onnxruntimeNode: version("onnxruntime-node"),
    cudaMajor: Number(cudart.split(".").at(-1)),
    cudnnMajor: 9,
    libs,
  };
  writeFileSync(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
  process.stdout.write(`wrote ${MANIFEST}: CUDA ${manifest.cudaMajor}\n`);
}

function install(dir) {
  const manifest = JSON.parse(readFileSync(MANIFEST, "utf8"));
  for (const [lib, { sha256: want }] of Object.entries(manifest.libs)) {
    const file = join(dir, PROVIDER_DIR, lib);
    const got = sha256(file);
    if (got !== want) fail(`${file}: sha256 ${got}, pinned ${want} (cuda-provider.json)`);
    copyFileSync(file, join(dir, BINDING_DIR, lib));
  }
  process.stdout.write(`installed ${Object.keys(manifest.libs).join(", ")} (sha256 verified)\n`);
}

function check(dir) {
  const missing = [];
  for (const file of [
    join(dir, BINDING_DIR, "onnxruntime_binding.node"),
    ...LIBS.map((l) => join(dir, BINDING_DIR, l)),
  ]) {
    const out = execFileSync("ldd", [file], { encoding: "utf8" });
    for (const m of out.matchAll(/^\s*(\S+) => not found/gm))
      if (!FROM_DRIVER.has(m[1])) missing.push(`${file}: ${m[1]}`);
  }
  const { cudnnMajor } = JSON.parse(readFileSync(MANIFEST, "utf8"));
  // by path where it is: /sbin is not on a non-root user's PATH on Debian (where npm test runs this)
  const ldconfig = existsSync("/sbin/ldconfig") ? "/sbin/ldconfig" : "ldconfig";
  const cache = execFileSync(ldconfig, ["-p"], { encoding: "utf8" });
  if (!cache.includes(`libcudnn.so.${cudnnMajor} `))
    missing.push(`libcudnn.so.${cudnnMajor} (dlopen) is not on the loader path`);
  if (missing.length > 0) fail(`libraries missing from the image:\n  ${missing.join("\n  ")}`);
  process.stdout.write("every library of the CUDA provider resolves (libcuda.so.1 comes from the driver)\n");
}

const [command, dir = process.cwd()] = process.argv.slice(2);
if (command === "pin") pin(dir);
else if (command === "install") install(dir);
else if (command === "check") check(dir);
else fail("usage: cuda-provider.mjs pin|install|check [DIR]");
