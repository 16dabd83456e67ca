"""MASSIVE loading in both layouts, the label table, and data provenance."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Example:
    text: str
    intent: str


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_jsonl(path: str | Path, partition: str | None = None) -> list[Example]:
    """Reads MASSIVE official JSONL (`utt`, `intent`, `partition`) or `{"text", "label_text"}` JSONL.

    `partition` filters official files (one file holds train/dev/test); rows of the other layout
    have no partition and are always kept.
    """
    out: list[Example] = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "utt" in row and "intent" in row:
                if partition is not None and row.get("partition") not in (partition, None):
                    continue
                out.append(Example(row["utt"], row["intent"]))
            elif "text" in row and "label_text" in row:
                out.append(Example(row["text"], row["label_text"]))
            else:
                raise ValueError(f"{path}:{line_no}: expected utt+intent or text+label_text")
    return out


def label_table(intents: list[str]) -> list[dict]:
    """Labels in logit order: sorted by name, so the table is reproducible from the data alone.

    MASSIVE intents are `scenario_action` (e.g. `iot_hue_lightchange`: scenario `iot`).
    """
    table = []
    for i, name in enumerate(sorted(set(intents))):
        scenario, _, action = name.partition("_")
        table.append({"id": i, "name": name, "scenario": scenario, "action": action})
    return table


@dataclass
class Splits:
    train: list[Example]
    validation: list[Example]
    test: list[Example]
    files: dict[str, str]  # split -> sha256 of the file it came from


def load_splits(data_dir: str | Path) -> Splits:
    """`data_dir` holds train/validation/test.jsonl (either layout)."""
    d = Path(data_dir)
    files = {s: d / f"{s}.jsonl" for s in ("train", "validation", "test")}
    return Splits(
        train=load_jsonl(files["train"]),
        validation=load_jsonl(files["validation"]),
        test=load_jsonl(files["test"]),
        files={s: sha256_file(p) for s, p in files.items()},
    )
