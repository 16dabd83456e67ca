"""Typed-text augmentation and synthetic noise (issue 14).

MASSIVE en-US is transcribed speech: numbers are words ("wake me up at seven thirty a. m."), there
are no digits, and contractions keep their apostrophes. People type "7:30am", "12/25", "$5", "25%",
"whats". `typed_variant` rewrites an utterance the way it could be typed (random choices, for
training); `typed_canonical` is the one deterministic rewrite used to measure the typed-digits gap
(training/typed_digits.py). `noise_text` makes gibberish (keyboard mashing, random letters, made-up
syllables, random characters of other scripts) for the out-of-scope signal: the members learn to
answer it with a flat distribution, so its calibrated top probability falls under the threshold.
"""

from __future__ import annotations

import random
import re

UNITS = {"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
ORD_UNITS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
             "ninth": 9}
ORD_TEENS = {"tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
             "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19}
ORD_TENS = {"twentieth": 20, "thirtieth": 30}
ORDINALS = {**ORD_UNITS, **ORD_TEENS, **ORD_TENS}
CARDINAL_WORDS = set(UNITS) | set(TEENS) | set(TENS) | set(SCALES)
NUMBER_WORDS = CARDINAL_WORDS | set(ORDINALS)
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
# "one" and "second" are often no number at all ("the next one", "wait a second").
ONE_CONTEXT_BEFORE = {"at", "for", "by", "to", "until", "till", "from", "in", "after", "before", "around", "about",
                      "is", "plus", "minus", "times", "and", "than", "of", "rate", "volume", "channel", "station",
                      "number", "only", "just"}
UNIT_AFTER = {"am", "pm", "a.", "p.", "o'clock", "oclock", "percent", "dollars", "dollar", "bucks", "euros",
              "pounds", "minutes", "minute", "mins", "hours", "hour", "seconds", "days", "day", "weeks", "week",
              "months", "years", "degrees", "people", "persons", "star", "stars", "times", "hundred", "thousand",
              "point", "plus", "minus", "times", "divided", "miles", "mile", "kilometers", "km", "pm.", "am."}


def _ord_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def parse_cardinal(words: list[str]) -> int | None:
    """'one hundred and ninety six' → 196; None when the words are not one number."""
    total, current, seen = 0, 0, False
    last = None  # kind of the previous word, to refuse "twenty twenty" style runs (years handled apart)
    for w in words:
        if w == "and":
            if last not in ("scale",):
                return None
            last = "and"
            continue
        if w in UNITS:
            if last in ("unit", "teen"):
                return None
            current += UNITS[w]
            last = "unit"
        elif w in TEENS:
            if last in ("unit", "teen", "tens"):
                return None
            current += TEENS[w]
            last = "teen"
        elif w in TENS:
            if last in ("unit", "teen", "tens"):
                return None
            current += TENS[w]
            last = "tens"
        elif w in SCALES:
            if current == 0:
                current = 1
            if SCALES[w] == 100:
                current *= 100
            else:
                total += current * SCALES[w]
                current = 0
            last = "scale"
        else:
            return None
        seen = True
    if last == "and":
        return None
    return total + current if seen else None


def _spans(tokens: list[str]) -> list[tuple[int, int]]:
    """Maximal runs of cardinal words (with inner 'and' after a scale) and an optional final ordinal."""
    spans, i = [], 0
    while i < len(tokens):
        t = tokens[i]
        if t in CARDINAL_WORDS or t in ORDINALS:
            j = i
            while j < len(tokens) and (tokens[j] in CARDINAL_WORDS or (
                    tokens[j] == "and" and j > i and tokens[j - 1] in SCALES and j + 1 < len(tokens)
                    and tokens[j + 1] in CARDINAL_WORDS | set(ORDINALS))):
                j += 1
            if j < len(tokens) and tokens[j] in ORDINALS and (j == i or tokens[j - 1] in TENS or tokens[j - 1] in SCALES
                                                             or tokens[j - 1] == "and"):
                j += 1
            if j == i:  # a lone ordinal
                j = i + 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    return spans


def _value(words: list[str]) -> tuple[int, bool] | None:
    """(number, is_ordinal) for a span, or None."""
    if words[-1] in ORDINALS:
        head = words[:-1]
        base = ORDINALS[words[-1]]
        if not head:
            return base, True
        if head[-1] in TENS and base < 10:
            pre = parse_cardinal(head)
            return (pre + base, True) if pre is not None else None
        pre = parse_cardinal(head)
        return (pre + base, True) if pre is not None else None
    n = parse_cardinal(words)
    return (n, False) if n is not None else None


def _split_runs(words: list[str]) -> list[list[str]]:
    """'nine thirty' → [nine] [thirty] (a time), 'twenty twenty' → a year; a run that is no single
    number is split where parsing fails."""
    if _value(words) is not None:
        return [words]
    out, cur = [], []
    for w in words:
        if cur and _value(cur + [w]) is None:
            out.append(cur)
            cur = [w]
        else:
            cur.append(w)
    if cur:
        out.append(cur)
    return out


def _is_number_here(tokens: list[str], i: int, j: int) -> bool:
    words = tokens[i:j]
    if words == ["one"] or words == ["second"]:
        before = tokens[i - 1] if i > 0 else ""
        after = tokens[j] if j < len(tokens) else ""
        if words == ["second"]:
            return before == "the" and (after == "of" or (i > 1 and tokens[i - 2] in MONTHS)) or before in MONTHS
        return before in ONE_CONTEXT_BEFORE and after not in ("of", "more", "another", "day") or after in UNIT_AFTER
    if words in (["first"], ["third"]) and not (i > 0 and (tokens[i - 1] in MONTHS or (
            tokens[i - 1] == "the" and j < len(tokens) and tokens[j] == "of"))):
        return False
    return True


def has_number_words(text: str) -> bool:
    tokens = text.lower().split()
    return any(_is_number_here(tokens, i, j) for i, j in _spans(tokens))


def _time_suffix(tokens: list[str], j: int) -> tuple[str | None, int]:
    """am/pm after position j ('am', 'a. m.', 'pm', 'p. m.') → ('am'|'pm', tokens consumed)."""
    if j < len(tokens) and tokens[j] in ("am", "pm"):
        return tokens[j], 1
    if j + 1 < len(tokens) and tokens[j] in ("a.", "p.") and tokens[j + 1] in ("m.", "m"):
        return tokens[j][0] + "m", 2
    return None, 0


def to_digits(text: str, rng: random.Random | None = None) -> str:
    """Number words → digits. With rng, the typed form is chosen at random among common ones;
    without, one canonical form ("7am", "9:30 pm", "march 31st", "$5", "25%", "2016")."""
    tokens = text.split()
    low = [t.lower() for t in tokens]
    pick = (lambda opts: opts[0]) if rng is None else (lambda opts: rng.choice(opts))
    out: list[str] = []
    i = 0
    spans = {a: b for a, b in _spans(low)}
    while i < len(low):
        if i not in spans or not _is_number_here(low, i, spans[i]):
            out.append(tokens[i])
            i += 1
            continue
        j = spans[i]
        runs = _split_runs(low[i:j])
        vals = [_value(r) for r in runs]
        if any(v is None for v in vals):
            out.extend(tokens[i:j])
            i = j
            continue
        before = low[i - 1] if i > 0 else ""
        suffix, used = _time_suffix(low, j)
        after = low[j] if j < len(low) else ""
        nums = [v[0] for v in vals]
        ords = [v[1] for v in vals]
        text_out = None
        # times: "nine thirty", "seven forty five", "ten oh five", with or without am/pm
        if len(nums) == 2 and not any(ords) and 1 <= nums[0] <= 12 and 0 <= nums[1] < 60 and (
                suffix or before in ("at", "by", "until", "till", "from", "to", "for", "around", "before", "after")):
            hm = f"{nums[0]}:{nums[1]:02d}"
            if suffix:
                text_out = pick([f"{hm}{suffix}", f"{hm} {suffix}", f"{hm} {suffix[0]}.m.", f"{hm}{suffix.upper()}"])
                j += used
            else:
                text_out = hm
        elif len(nums) == 3 and not any(ords) and 1 <= nums[0] <= 12 and low[i + 1] == "oh" and nums[2] < 10:
            hm = f"{nums[0]}:0{nums[2]}"
            if suffix:
                text_out = pick([f"{hm}{suffix}", f"{hm} {suffix}"])
                j += used
            else:
                text_out = hm
        elif len(nums) == 2 and not any(ords) and nums[0] in range(19, 21) and 0 <= nums[1] < 100 and (
                nums[1] >= 10 or low[i + 1] == "oh"):
            text_out = f"{nums[0]}{nums[1]:02d}"  # a year: "twenty twenty" → 2020
        elif len(nums) == 1:
            n, is_ord = nums[0], ords[0]
            if is_ord:
                month_before = before in MONTHS
                of_month = j + 1 < len(low) and low[j] == "of" and low[j + 1] in MONTHS
                if month_before and rng is not None and rng.random() < 0.35 and n <= 31:
                    out[-1:] = [f"{MONTHS.index(before) + 1}/{n}"]
                    i = j
                    continue
                if of_month and rng is not None and rng.random() < 0.35 and n <= 31:
                    text_out = f"{MONTHS.index(low[j + 1]) + 1}/{n}"
                    j += 2
                else:
                    text_out = pick([f"{n}{_ord_suffix(n)}", f"{n}"]) if (month_before or of_month) else f"{n}{_ord_suffix(n)}"
            elif suffix and 100 <= n < 1300 and 1 <= n // 100 <= 12 and n % 100 < 60:  # "five hundred and thirty am"
                hm = f"{n // 100}:{n % 100:02d}"
                text_out = pick([f"{hm}{suffix}", f"{hm} {suffix}"])
                j += used
            elif suffix and 1 <= n <= 12:
                text_out = pick([f"{n}{suffix}", f"{n} {suffix}", f"{n}{suffix[0]}.m.", f"{n}:00{suffix}",
                                 f"{n} {suffix.upper()}"])
                j += used
            elif after in ("o'clock", "oclock") and 1 <= n <= 12:
                text_out = pick([f"{n} o'clock", f"{n}:00", f"{n}oclock"])
                j += 1
            elif after in ("percent", "per") and (after == "percent" or (j + 1 < len(low) and low[j + 1] == "cent")):
                text_out = pick([f"{n}%", f"{n} %", f"{n} percent"])
                j += 1 if after == "percent" else 2
            elif after in ("dollars", "dollar", "bucks"):
                text_out = pick([f"${n}", f"{n} dollars", f"{n}$"])
                j += 1
            elif after == "point" and j + 1 < len(low) and low[j + 1] in UNITS:
                k = j + 1
                decimals = ""
                while k < len(low) and low[k] in UNITS:
                    decimals += str(UNITS[low[k]])
                    k += 1
                text_out = f"{n}.{decimals}"
                j = k
            elif after in ("degrees", "degree") and rng is not None and rng.random() < 0.3:
                text_out = f"{n}°"
                j += 1
            else:
                text_out = str(n)
        else:
            text_out = " ".join(str(v[0]) + (_ord_suffix(v[0]) if v[1] else "") for v in vals)
        out.append(text_out)
        i = j
    return " ".join(out)


CONTRACT = [("what is", "what's"), ("i am", "i'm"), ("do not", "don't"), ("it is", "it's"), ("that is", "that's"),
            ("there is", "there's"), ("can not", "can't"), ("cannot", "can't"), ("i will", "i'll"),
            ("you are", "you're"), ("let us", "let's"), ("i would", "i'd"), ("i have", "i've"), ("is not", "isn't"),
            ("does not", "doesn't"), ("did not", "didn't"), ("will not", "won't"), ("where is", "where's"),
            ("who is", "who's"), ("how is", "how's"), ("are not", "aren't"), ("we are", "we're")]
EXPAND = [(b, a) for a, b in CONTRACT if a != "cannot"]
QUESTION_START = ("what", "how", "when", "where", "who", "which", "why", "is", "are", "do", "does", "did", "can",
                  "could", "will", "would", "should", "have", "has", "tell")


def _sub_phrase(text: str, a: str, b: str) -> str:
    return re.sub(rf"(?<![\w']){re.escape(a)}(?![\w'])", b, text)


def typing_variant(text: str, rng: random.Random) -> str:
    """Contractions (both ways), dropped apostrophes, 'p. m.' → 'pm', trailing punctuation, commas."""
    t = text
    if rng.random() < 0.5:
        for a, b in CONTRACT if rng.random() < 0.6 else EXPAND:
            if rng.random() < 0.7:
                t = _sub_phrase(t, a, b)
    t = re.sub(r"\b([ap])\. m\.", lambda m: rng.choice([m.group(1) + "m", m.group(1) + ".m.", m.group(1).upper() + "M"]), t)
    if "'" in t and rng.random() < 0.5:
        t = t.replace("'", "")
    if rng.random() < 0.1:
        t = t.replace("'", "’")
    if rng.random() < 0.2:
        t = re.sub(r"\b([a-z])\. ([a-z])\.", r"\1\2", t)  # "d. c." → "dc"
    if rng.random() < 0.15 and t.startswith("olly "):
        t = "olly, " + t[5:]
    r = rng.random()
    if r < 0.3:
        t += "?" if t.split(" ", 1)[0] in QUESTION_START else "."
    elif r < 0.35:
        t += rng.choice(["!", "?", "...", " ?", "!!"])
    if rng.random() < 0.3:
        t = t[:1].upper() + t[1:]
    elif rng.random() < 0.05:
        t = t.upper()
    return t


def typed_variant(text: str, rng: random.Random) -> str:
    """A typed-style rewrite for training: digits where there are number words (most of the time),
    plus typing habits."""
    t = to_digits(text, rng) if rng.random() < 0.85 else text
    return typing_variant(t, rng)


def typed_canonical(text: str) -> str:
    """The deterministic typed form for the typed-digits measurement: digits only, nothing else
    changes except 'p. m.'/'a. m.' joined into the number ("5pm")."""
    return to_digits(text, None)


# --- synthetic noise -------------------------------------------------------------------------
KEY_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890"]
CONSONANTS = "bcdfghjklmnpqrstvwxz"
VOWELS = "aeiouy"
SCRIPTS = [(0x0400, 0x04FF), (0x0370, 0x03FF), (0x4E00, 0x9FFF), (0x0600, 0x06FF), (0x0900, 0x097F),
           (0x3040, 0x30FF), (0xAC00, 0xD7A3), (0x0590, 0x05FF), (0x0E00, 0x0E7F), (0x00C0, 0x017F)]
SYMBOLS = "!@#$%^&*()_+-=[]{};:'\",.<>/?\\|~`"


def _mash(rng: random.Random) -> str:
    row = rng.choice(KEY_ROWS[:3]) if rng.random() < 0.8 else "".join(KEY_ROWS[:3])
    n = rng.randint(3, 9)
    if rng.random() < 0.5:
        start = rng.randint(0, max(0, len(row) - 3))
        s = row[start:start + n]
        return s if rng.random() < 0.5 else s[::-1]
    return "".join(rng.choice(row) for _ in range(n))


def _random_letters(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))


def _pseudo_word(rng: random.Random) -> str:
    out = ""
    for _ in range(rng.randint(1, 4)):
        out += rng.choice(CONSONANTS) * (1 if rng.random() < 0.85 else 2) + rng.choice(VOWELS)
        if rng.random() < 0.4:
            out += rng.choice(CONSONANTS)
    return out


def _script_word(rng: random.Random) -> str:
    lo, hi = rng.choice(SCRIPTS)
    return "".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 6)))


def _junk(rng: random.Random) -> str:
    pool = SYMBOLS + "0123456789" + "abcdefghijklmnopqrstuvwxyz"
    return "".join(rng.choice(pool) for _ in range(rng.randint(1, 8)))


def noise_text(rng: random.Random) -> str:
    kind = rng.random()
    n = rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6, 8])
    if kind < 0.25:
        words = [_mash(rng) for _ in range(n)]
    elif kind < 0.45:
        words = [_random_letters(rng) for _ in range(n)]
    elif kind < 0.65:
        words = [_pseudo_word(rng) for _ in range(n)]
    elif kind < 0.75:
        words = [_script_word(rng) for _ in range(n)]
    elif kind < 0.82:
        words = [_junk(rng) for _ in range(n)]
    elif kind < 0.88:  # one long run, e.g. "aaaaaaa", "jjjjkkkk", "hahahahaha"
        c = rng.choice("abcdefghijklmnopqrstuvwxyz")
        words = [c * rng.randint(3, 12)] if rng.random() < 0.5 else [(_pseudo_word(rng)[:2]) * rng.randint(2, 6)]
    else:  # mixed
        makers = [_mash, _random_letters, _pseudo_word, _junk]
        words = [rng.choice(makers)(rng) for _ in range(n)]
    text = " ".join(words)
    if rng.random() < 0.2:
        text += rng.choice(["?", "!", ".", "!!!", "??"])
    if rng.random() < 0.2:
        text = text.upper()
    return text


def noise_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [noise_text(rng) for _ in range(n)]
