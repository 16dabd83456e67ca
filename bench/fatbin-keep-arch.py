#!/usr/bin/env python3
"""Keep one GPU architecture's device code in an ELF shared library's `.nv_fatbin` section.

    python3 bench/fatbin-keep-arch.py --arch 90 IN.so OUT.so     # write a trimmed copy
    python3 bench/fatbin-keep-arch.py --list IN.so               # entries per kind and arch, nothing written

Why: ONNX Runtime's CUDA execution provider (libonnxruntime_providers_cuda.so, ~229 MB) carries
cubins for sm_75, 80, 86, 89, 90 and 120; they are already compressed, so xz gains little and the
GPU host transfer (64 MiB a call) would need six parts. The H100/H200 of the benchmark host only
ever load the sm_90 cubins. Zeroing the payload of every other entry keeps the file layout, every
offset, every section, the relocations into the section and every fatbin/entry header unchanged,
and the zeroed runs compress to nearly nothing.

!! A trimmed library only runs on sm_90 GPUs (H100, H200). On any other GPU the driver picks
!! an entry whose payload is now zeros and kernels fail to load ("no kernel image" or an invalid
!! image). Never ship a trimmed provider anywhere but the sm_90 benchmark host.

Format handled (little-endian, as in the CUDA 11-13 toolchains' output): the section holds
containers back to back, each a 16-byte header

    u32 magic 0xBA55ED50 | u16 version (1) | u16 header size (16) | u64 size of the entries that follow

followed by entries, each a header and then its payload:

    +0  u16 kind (1 PTX, 2 ELF cubin)   +2  u16 (unused here)     +4  u32 entry header size
    +8  u64 payload size (padded)       +16 u32 stored size       +20 u32 (unused here)
    +24 u16 minor, +26 u16 major        +28 u32 sm arch (e.g. 90)  ... rest of the header

The next entry starts at entry + header size + payload size. Anything that does not parse exactly
(bad magic, entries overrunning their container, containers overrunning the section) aborts
without writing.

Policy: cubins of other archs are zeroed. PTX of other archs is zeroed only in a container that
also holds a cubin of the kept arch; in a container without one, PTX at or below the kept arch is
kept, since the driver could JIT it (the CUDA provider of ONNX Runtime 1.29.0 has no PTX at all).

After writing, the output is parsed again and compared with the input: same size, every byte
outside the zeroed payloads identical (so every kept entry is byte-identical), zeroed payloads all
zero. A JSON summary goes to stdout.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import struct
import sys

FATBIN_MAGIC = 0xBA55ED50
KIND_NAMES = {1: "ptx", 2: "cubin"}


class FatbinError(Exception):
    pass


def find_section(data: bytes | bytearray, wanted: str) -> tuple[int, int]:
    """(file offset, size) of the named section of a little-endian ELF64 file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise FatbinError("not a little-endian ELF64 file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shoff == 0 or shnum == 0 or shentsize < 64:
        raise FatbinError("no section header table")

    def header(i: int) -> tuple[int, int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        return name, _type, offset, size

    _, _, strtab_off, strtab_size = header(shstrndx)
    found = []
    for i in range(shnum):
        name_off, sh_type, offset, size = header(i)
        end = data.index(b"\0", strtab_off + name_off)
        if data[strtab_off + name_off : end].decode("ascii", "replace") == wanted:
            if sh_type == 8:  # SHT_NOBITS
                raise FatbinError(f"{wanted} has no bytes in the file")
            found.append((offset, size))
    if len(found) != 1:
        raise FatbinError(f"expected one {wanted} section, found {len(found)}")
    offset, size = found[0]
    if offset + size > len(data):
        raise FatbinError(f"{wanted} runs past the end of the file")
    return offset, size


def parse(data: bytes | bytearray, start: int, size: int) -> list[list[dict]]:
    """Containers of the fatbin section, each a list of entries (dicts with kind, arch, offsets)."""
    containers = []
    pos, end = start, start + size
    while pos < end:
        if end - pos < 16:
            raise FatbinError(f"{end - pos} trailing bytes at {pos:#x}")
        magic, version, header_size, body_size = struct.unpack_from("<IHHQ", data, pos)
        if magic != FATBIN_MAGIC:
            # Tolerate zero padding between containers (alignment), nothing else.
            if data[pos : pos + 8] == b"\0" * 8:
                pos += 8
                continue
            raise FatbinError(f"bad container magic {magic:#x} at {pos:#x}")
        if header_size < 16:
            raise FatbinError(f"container header size {header_size} at {pos:#x}")
        body, body_end = pos + header_size, pos + header_size + body_size
        if body_end > end:
            raise FatbinError(f"container at {pos:#x} overruns the section")
        entries = []
        e = body
        while e < body_end:
            if body_end - e < 32:
                raise FatbinError(f"truncated entry header at {e:#x}")
            kind, _, entry_header_size, payload_size = struct.unpack_from("<HHIQ", data, e)
            (arch,) = struct.unpack_from("<I", data, e + 28)
            if entry_header_size < 32 or e + entry_header_size + payload_size > body_end:
                raise FatbinError(f"entry at {e:#x} overruns its container at {pos:#x}")
            entries.append(
                {
                    "kind": kind,
                    "arch": arch,
                    "header": e,
                    "payload": e + entry_header_size,
                    "payload_size": payload_size,
                }
            )
            e += entry_header_size + payload_size
        if e != body_end:
            raise FatbinError(f"entries of the container at {pos:#x} end at {e:#x}, not {body_end:#x}")
        containers.append(entries)
        pos = body_end
    return containers


def plan(containers: list[list[dict]], keep: int) -> list[dict]:
    """Entries whose payload is to be zeroed."""
    drop = []
    for entries in containers:
        has_kept_cubin = any(x["kind"] == 2 and x["arch"] == keep for x in entries)
        for x in entries:
            if x["arch"] == keep:
                continue
            if x["kind"] == 1 and not has_kept_cubin and x["arch"] <= keep:
                continue  # JIT-able PTX is this container's only way onto the kept arch
            drop.append(x)
    return drop


def census(containers: list[list[dict]], data: bytes | bytearray, dropped: set[int] = frozenset()) -> dict:
    """Per kind/arch: entries, payload bytes, how many are to be zeroed (`dropped`), how many payloads
    are all zero already (a trimmed file), and a digest of the headers and payloads not dropped."""
    rows: dict[str, dict] = collections.OrderedDict()
    digests: dict[str, hashlib._Hash] = {}
    for entries in containers:
        for x in entries:
            key = f"{KIND_NAMES.get(x['kind'], 'kind' + str(x['kind']))}/sm_{x['arch']}"
            row = rows.setdefault(key, {"entries": 0, "bytes": 0, "zeroed": 0, "allZeroPayloads": 0})
            row["entries"] += 1
            row["bytes"] += x["payload_size"]
            payload = data[x["payload"] : x["payload"] + x["payload_size"]]
            row["allZeroPayloads"] += payload.count(0) == len(payload)
            if x["header"] in dropped:
                row["zeroed"] += 1
            else:
                h = digests.setdefault(key, hashlib.sha256())
                h.update(bytes(data[x["header"] : x["payload"] + x["payload_size"]]))
    for key, h in digests.items():
        rows[key]["kept_sha256"] = h.hexdigest()
    return dict(sorted(rows.items(), key=lambda kv: (kv[0].split("/")[0], int(kv[0].split("_")[-1]))))


def verify(original: bytes, trimmed: bytearray, drop: list[dict], keep: int) -> None:
    if len(original) != len(trimmed):
        raise FatbinError("size changed")
    # Everything outside the zeroed payloads must be identical; the zeroed payloads all zero.
    cursor = 0
    for x in sorted(drop, key=lambda x: x["payload"]):
        a, b = x["payload"], x["payload"] + x["payload_size"]
        if original[cursor:a] != trimmed[cursor:a]:
            raise FatbinError(f"bytes changed between {cursor:#x} and {a:#x}")
        if trimmed[a:b].count(0) != b - a:
            raise FatbinError(f"payload at {a:#x} not zeroed")
        cursor = b
    if original[cursor:] != trimmed[cursor:]:
        raise FatbinError(f"bytes changed after {cursor:#x}")
    # The output still parses to the same containers and entries, and the kept arch is untouched.
    start, size = find_section(trimmed, ".nv_fatbin")
    before, after = parse(original, start, size), parse(trimmed, start, size)
    strip = lambda cs: [[(x["kind"], x["arch"], x["header"], x["payload_size"]) for x in c] for c in cs]  # noqa: E731
    if strip(before) != strip(after):
        raise FatbinError("the trimmed section parses differently")
    kept_before = census(before, original).get(f"cubin/sm_{keep}", {}).get("kept_sha256")
    kept_after = census(after, trimmed).get(f"cubin/sm_{keep}", {}).get("kept_sha256")
    if kept_before is None or kept_before != kept_after:
        raise FatbinError(f"sm_{keep} cubins differ after trimming")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", type=int, default=90, help="SM architecture to keep (default 90: H100/H200)")
    ap.add_argument("--list", action="store_true", help="only print the entries per kind and arch")
    ap.add_argument("input")
    ap.add_argument("output", nargs="?")
    args = ap.parse_args()
    with open(args.input, "rb") as f:
        original = f.read()
    try:
        start, size = find_section(original, ".nv_fatbin")
        containers = parse(original, start, size)
        if args.list:
            print(json.dumps({"file": args.input, "section": {"offset": start, "size": size},
                              "containers": len(containers), "entries": census(containers, original)}, indent=1))
            return 0
        if not args.output:
            ap.error("OUTPUT is required unless --list")
        if not any(x["kind"] == 2 and x["arch"] == args.arch for c in containers for x in c):
            raise FatbinError(f"no sm_{args.arch} cubin in {args.input}: refusing to zero everything")
        drop = plan(containers, args.arch)
        trimmed = bytearray(original)
        for x in drop:
            trimmed[x["payload"] : x["payload"] + x["payload_size"]] = bytes(x["payload_size"])
        verify(original, trimmed, drop, args.arch)
    except FatbinError as err:
        print(f"fatbin-keep-arch: {args.input}: {err}", file=sys.stderr)
        return 1
    with open(args.output, "wb") as f:
        f.write(trimmed)
    dropped = {x["header"] for x in drop}
    summary = {
        "input": args.input,
        "output": args.output,
        "keptArch": f"sm_{args.arch}",
        "runsOnlyOn": f"sm_{args.arch} GPUs",
        "size": len(trimmed),
        "section": {"offset": start, "size": size},
        "containers": len(containers),
        "zeroedEntries": len(drop),
        "zeroedBytes": sum(x["payload_size"] for x in drop),
        "inputSha256": hashlib.sha256(original).hexdigest(),
        "outputSha256": hashlib.sha256(trimmed).hexdigest(),
        "entries": census(containers, original, dropped),
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
