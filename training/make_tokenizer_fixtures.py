#!/usr/bin/env python3
"""Writes the tokenizer parity fixtures that test/unit/tokenizer/parity.test.ts checks the edge
tokenizer against: Hugging Face BertTokenizerFast ids for MASSIVE validation texts and for the
adversarial strings in test/fixtures/tokenizer/adversarial.json.

    python training/make_tokenizer_fixtures.py \
        --vocab bert-base-uncased=PATH/vocab.txt \
        --vocab massive-wordpiece=models/massive-scratch/vocab.txt \
        --massive-validation data/massive-en/validation.jsonl \
        --adversarial test/fixtures/tokenizer/adversarial.json \
        --out test/fixtures/tokenizer

Per vocab NAME it writes OUT/NAME.jsonl, one line per encoding:
    {"source":"validation","id":"<MASSIVE id>","maxLength":128,"ids":[...]}   (no text: MASSIVE is
        not committed; the test looks the text up by id)
    {"source":"adversarial","index":i,"maxLength":128|16,"ids":[...]}
and OUT/NAME.meta.json with library versions, the vocab's sha256 and a cross-check count.

Settings: do_lower_case=True (so strip_accents follows it), tokenize_chinese_chars=True,
truncation=True, and split_special_tokens=True so that a literal "[MASK]" in user text is split
like any other text, which is the edge tokenizer's documented behaviour.

The script works with transformers 4.x (BertTokenizerFast(vocab_file=...)) and 5.x (where
BertTokenizerFast is BertTokenizer and takes vocab=dict; a vocab_file keyword is silently ignored
there). Every encoding is also computed by a plain `tokenizers` pipeline built from the same parts;
disagreements are counted in the meta file and printed, and the script fails on sanity checks rather
than write wrong fixtures.
"""

import argparse
import hashlib
import json
import os
import sys

MAX_LENGTHS_ADVERSARIAL = (128, 16)
MAX_LENGTH_VALIDATION = 128
SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def fail(message):
    print(f"make_tokenizer_fixtures: {message}", file=sys.stderr)
    sys.exit(1)


def load_vocab(path):
    """Same reading as transformers' load_vocab: lines minus their newline; a repeated token keeps
    its last index."""
    with open(path, "r", encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    vocab = {}
    for index, token in enumerate(lines):
        vocab[token.rstrip("\r")] = index
    missing = [t for t in SPECIAL if t not in vocab]
    if missing:
        fail(f"{path}: missing special tokens {missing}")
    return vocab, len(lines)


def make_transformers_tokenizer(path, vocab):
    import transformers

    major = int(transformers.__version__.split(".")[0])
    cls = getattr(transformers, "BertTokenizerFast")
    kwargs = dict(do_lower_case=True, tokenize_chinese_chars=True, strip_accents=None)
    if major >= 5:
        tok = cls(vocab=dict(vocab), **kwargs)
    else:
        tok = cls(vocab_file=path, **kwargs)
    # split_special_tokens as a keyword exists in recent 4.x and 5.x; set both ways and verify below.
    try:
        tok.split_special_tokens = True
    except Exception as error:  # noqa: BLE001 - any failure falls back to the backend flag
        print(f"note: split_special_tokens attribute failed ({error}); using backend flag", file=sys.stderr)
    try:
        tok._tokenizer.encode_special_tokens = True
    except Exception as error:  # noqa: BLE001
        print(f"note: backend encode_special_tokens unavailable ({error})", file=sys.stderr)
    if len(tok.get_vocab()) != len(vocab):
        fail(f"transformers tokenizer has {len(tok.get_vocab())} entries, vocab.txt {len(vocab)}: vocab not loaded")

    def encode(text, max_length):
        return tok(text, truncation=True, max_length=max_length, add_special_tokens=True)["input_ids"]

    return encode, f"transformers {transformers.__version__} {type(tok).__name__}"


def make_tokenizers_pipeline(vocab):
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    tok = Tokenizer(WordPiece(dict(vocab), unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"]))
    # No added tokens at all: a literal "[MASK]" can only be ordinary text here.

    def encode(text, max_length):
        tok.enable_truncation(max_length=max_length)
        return tok.encode(text).ids

    return encode


def sanity_check(name, vocab, encode):
    cls_id, sep_id, mask_id, unk_id = vocab["[CLS]"], vocab["[SEP]"], vocab["[MASK]"], vocab["[UNK]"]
    empty = encode("", 128)
    if empty != [cls_id, sep_id]:
        fail(f"{name}: '' encodes to {empty}, expected [CLS, SEP]")
    masked = encode("[MASK]", 128)
    if mask_id in masked[1:-1]:
        fail(f"{name}: literal [MASK] became the mask token ({masked}); split_special_tokens is not in effect")
    for word in ("the", "a", "play"):
        if word in vocab:
            ids = encode(word.upper(), 128)
            if ids != [cls_id, vocab[word], sep_id]:
                fail(f"{name}: {word.upper()!r} encodes to {ids}, expected [CLS, {vocab[word]}, SEP]")
    long_ids = encode("a " * 300, 16)
    if len(long_ids) != 16 or long_ids[0] != cls_id or long_ids[-1] != sep_id:
        fail(f"{name}: truncation to 16 gave {long_ids}")
    if encode("x" * 101, 128) != [cls_id, unk_id, sep_id]:
        fail(f"{name}: a 101-character word is not [UNK]")


def read_massive(path):
    rows = []
    with open(path, "r", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            text = row.get("text", row.get("utt"))
            if not isinstance(text, str) or "id" not in row:
                fail(f"{path}:{number}: no id/text")
            rows.append((str(row["id"]), text))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--massive-validation", required=True)
    parser.add_argument("--adversarial", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import tokenizers
    import transformers

    massive = read_massive(args.massive_validation)
    with open(args.adversarial, "r", encoding="utf-8") as f:
        adversarial = json.load(f)
    if not isinstance(adversarial, list) or not all(isinstance(s, str) for s in adversarial):
        fail(f"{args.adversarial}: expected a JSON array of strings")
    os.makedirs(args.out, exist_ok=True)

    for spec in args.vocab:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            fail(f"--vocab {spec!r}: expected NAME=PATH")
        with open(path, "rb") as f:
            sha256 = hashlib.sha256(f.read()).hexdigest()
        vocab, lines = load_vocab(path)

        pipeline = make_tokenizers_pipeline(vocab)
        sanity_check(f"{name} (tokenizers pipeline)", vocab, pipeline)
        try:
            encode, source = make_transformers_tokenizer(path, vocab)
            sanity_check(f"{name} (transformers)", vocab, encode)
        except SystemExit:
            raise
        except Exception as error:  # noqa: BLE001 - fall back rather than lose the only run
            print(f"warning: transformers tokenizer unusable ({error!r}); using the tokenizers pipeline", file=sys.stderr)
            encode, source = pipeline, f"tokenizers {tokenizers.__version__} pipeline (fallback)"

        records, disagreements = [], []
        jobs = [({"source": "validation", "id": i}, text, MAX_LENGTH_VALIDATION) for i, text in massive]
        for index, text in enumerate(adversarial):
            for max_length in MAX_LENGTHS_ADVERSARIAL:
                jobs.append(({"source": "adversarial", "index": index}, text, max_length))
        for key, text, max_length in jobs:
            ids = list(encode(text, max_length))
            other = list(pipeline(text, max_length))
            if ids != other:
                disagreements.append({**key, "maxLength": max_length, "ids": ids, "pipelineIds": other})
            records.append({**key, "maxLength": max_length, "ids": ids})

        out_path = os.path.join(args.out, f"{name}.jsonl")
        with open(out_path, "w", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n")
        meta = {
            "vocab": name,
            "vocabPath": path,
            "vocabSha256": sha256,
            "vocabLines": lines,
            "encoder": source,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "python": sys.version.split()[0],
            "settings": {
                "do_lower_case": True,
                "strip_accents": None,
                "tokenize_chinese_chars": True,
                "split_special_tokens": True,
                "truncation": True,
            },
            "massiveValidation": {"path": args.massive_validation, "texts": len(massive)},
            "adversarial": {"path": args.adversarial, "strings": len(adversarial), "maxLengths": list(MAX_LENGTHS_ADVERSARIAL)},
            "records": len(records),
            "pipelineDisagreements": len(disagreements),
            "pipelineDisagreementSamples": disagreements[:20],
        }
        with open(os.path.join(args.out, f"{name}.meta.json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=2, ensure_ascii=True)
            f.write("\n")
        print(f"{name}: {len(records)} records -> {out_path} ({source}); pipeline disagreements: {len(disagreements)}")
        if disagreements:
            print(f"warning: {name}: transformers and the plain tokenizers pipeline disagree on {len(disagreements)} encodings; see meta", file=sys.stderr)


if __name__ == "__main__":
    main()
