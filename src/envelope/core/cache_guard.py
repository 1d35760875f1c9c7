"""The cache guard: the last check before a semantic-cache hit.

The semantic cache answers a new question with an earlier question's answer when their
embeddings are close. Sentence embeddings are weakest exactly where one small edit flips
the answer: a negation ("can I return" / "can I not return"), an opposite ("enable 2FA" /
"disable 2FA"), a number ("5 miles" / "8 miles") or a name ("visa for France" / "visa for
Spain"). `conflict(query, cached)` reads both texts for those four signals and names the
first on which they disagree; `None` means nothing in the texts forbids sharing an answer.
It is a veto only: it never makes two texts match. Pure, standard library only.

Each text is read once into `Facts` (memoised, so the cached side and a repeated query
cost a dictionary lookup), then the two are compared, in this order:

- **negation** — a text is negated when it holds a cue: `not no never none nobody nothing
  nowhere neither nor without cannot unable`, any `…n't` (’ too), the apostrophe-less
  `dont cant wont …`, and `X-free` ("gluten-free"). Presence, not parity: "why won't it
  start" and "why doesn't it start" agree, and a double negation still counts. Not cues: a
  cue after `or` ("whether or not", "with or without"), "not only", a leading "No," and a
  capitalised cue inside a name ("404 Not Found"). `except`, `unless` and `fail` are left
  to polarity. Known false alarms: the rhetorical "is there no way to…?", and a negation
  said without a cue ("I forgot" / "I can't remember").
- **polarity** — words and phrasal verbs carry a pole on an axis (`enable`/`disable`,
  `turn on`/`turn off`, `before`/`after`, `buy`/`sell`, ~80 axes, regular inflections
  included). The texts conflict when an axis is in both and their poles do not overlap:
  synonyms agree ("raise" / "increase"), and an axis in one text only, or with both poles
  in one text ("pros and cons"), is fine. `more`/`most`/`less`/`least` before a marked
  word carry its pole ("least expensive" = "cheapest"). Also polarity: an `un-`/`dis-`
  word whose bare stem is in the other text ("unfollow" / "follow"), and a swapped
  direction ("miles to km" / "km to miles", "from London to Paris" / "from Paris to
  London", "ounces in a cup" / "cups in an ounce").
- **number** — the multisets of numbers must be equal (so "2 + 2" ≠ "2 + 2 + 2"). Read:
  digits (`1,000`, `3.5`, `-5`, `5%`, `$20`, `37.5°C`, `5k`, `10km`, `3rd`), versions and
  addresses kept verbatim (`3.12`, `v2`, `10.0.0.1`: 3.10 ≠ 3.1), times (`3pm` = `3 pm` =
  `15:00`), number words (`ten`, `twenty-five`, `two hundred and six`, `1.5 million`,
  `a dozen`, `half`, `twice`, ordinals from `third`). `10.0` = `10`; units and currencies
  are not compared. "one", "a", "an", "once" and "first" are often not counts, so each may
  stand for a 1 or for nothing ("which one is better" = "which is better"); `1st` is a 1
  and also `first` (polarity, against `last`). `second` is not a number (it is the unit).
- **entity** — every name in one text must be a token of the other, case-insensitively.
  Names: capitalised words not starting a sentence (not "I", nor common words), ALL-CAPS
  words, words mixing letters and digits (`E404`, `S3`, `2FA`) or cases (`iPhone`), the
  parts of code (`snake_case`, `dotted.names`, paths, URLs, e-mails, `--flags`) and the
  words of quoted text. A word capitalised only because it starts a sentence is a token,
  not a name, so "Python lists?" / "lists in Python" pass. Title Case and ALL-CAPS texts
  say nothing by their capitals; unit symbols (`MB`, `GiB`) are not names. A name is
  also found as two or three adjacent tokens joined (`iphone15` in "iPhone 15"), give or
  take a plural s, as a standard abbreviation (`US`, `JS`, `NYC`, `Jan`), by the
  capitals of a camel-case word (`JavaScript` → `js`) or as a numeronym (`k8s`).

The module is long (≈ 830 lines) because a quarter of it is word lists (common words,
number words, ≈ 80 polarity axes) that read best beside the rules using them; the rules
themselves are short functions. Tests: tests/core/test_cache_guard.py (≈ 220 cases).

Blind spots kept on purpose, so that paraphrases pass: lowercase names ("visa for spain"),
synonyms and unit conversions ("two weeks" / "14 days"), and meaning carried by word
order alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from typing import Final, Literal

Reason = Literal["negation", "polarity", "number", "entity"]
Marks = tuple[tuple[str, int], ...]  # the (axis, +1 | -1) a word or phrase carries


# Word lists are written as strings: easier to read and edit than literals.
def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _counted(text: str, *, start: int = 0, step: int = 1) -> dict[str, int]:
    return {w: (start + i) * step for i, w in enumerate(text.split())}


def _mapping(text: str) -> dict[str, str]:
    """`"a=b c=d_e"` → {"a": "b", "c": "d e"}."""
    return {k: v.replace("_", " ") for k, _, v in (item.partition("=") for item in text.split())}


@dataclass(frozen=True, slots=True)
class Facts:
    """What one text says, as far as the guard cares."""

    negated: bool
    polarity: tuple[tuple[str, int], ...]  # (axis, mask): 1 positive pole, 2 negative, 3 both
    prefixed: frozenset[tuple[str, str]]  # (stem, word) of un-/dis- words: ("follow", "unfollow")
    pairs: frozenset[tuple[str, str, str]]  # directed: ("to", source, target), ("in", part, whole)
    numbers: tuple[str, ...]  # canonical and sorted, without the 1s
    ones: int  # explicit 1s
    soft_ones: int  # "one", "a", "an", "once", "first": a 1 or nothing
    entities: frozenset[str]  # keys (lowercase alphanumerics) of names
    tokens: frozenset[str]  # keys of every token
    keys: tuple[str, ...]  # keys of every token in order ("iphone", "15" also hold "iphone15")


def conflict(query: str, cached: str) -> Reason | None:
    """None when nothing in the two texts forbids sharing an answer, else the reason:
    "negation", "polarity", "number" or "entity"."""
    if query == cached:
        return None
    a, b = facts(query), facts(cached)
    if a.negated != b.negated:
        return "negation"
    if _opposed(a, b):
        return "polarity"
    if a.numbers != b.numbers or a.ones > b.ones + b.soft_ones or b.ones > a.ones + a.soft_ones:
        return "number"
    if _unmatched(a.entities, b) or _unmatched(b.entities, a):
        return "entity"
    return None


@lru_cache(maxsize=4096)
def facts(text: str) -> Facts:
    """Read one text (memoised: the cached side is read once)."""
    reader = _Reader(text if text.isascii() else text.translate(_QUOTES))
    words = reader.words
    if reader.numeric or not _NUMBER_WORDS.isdisjoint(words):
        numbers, soft_ones = _numbers(words)
    else:
        numbers, soft_ones = [], sum(map(words.count, _SOFT_ONES))
    rest = sorted(n for n in numbers if n != "1")
    return Facts(
        negated=_negated(words, reader.cues),
        polarity=tuple(_polarity(words).items()),
        prefixed=frozenset(reader.prefixed),
        pairs=_pairs(words),
        numbers=tuple(rest),
        ones=len(numbers) - len(rest),
        soft_ones=soft_ones,
        entities=frozenset(reader.entities),
        tokens=frozenset(reader.keys),
        keys=tuple(reader.keys),
    )


def _opposed(a: Facts, b: Facts) -> bool:
    if a.polarity and b.polarity:
        theirs = dict(b.polarity)
        for axis, mask in a.polarity:
            other = theirs.get(axis)
            if other and not mask & other:
                return True
    if a.pairs and b.pairs and any((tag, y, x) in b.pairs for tag, x, y in a.pairs):
        return True
    return _unprefixed(a, b) or _unprefixed(b, a)


def _unprefixed(a: Facts, b: Facts) -> bool:
    return any(s in b.tokens and w not in b.tokens and s not in a.tokens for s, w in a.prefixed)


def _unmatched(entities: frozenset[str], other: Facts) -> bool:
    """Some name is not a token of `other`, give or take a plural s, nor two or three of
    its adjacent tokens joined ("iphone 15" holds "iphone15"), nor an abbreviation of
    one ("k8s" = "kubernetes", "US" = "United States")."""
    missing = [e for e in entities if not _holds(other.tokens, e)]
    if not missing:
        return False
    keys = other.keys
    joined = frozenset((*(a + b for a, b in pairwise(keys)), *_expanded(keys)))
    return not all(_holds(joined, e) or _abbreviates(e, other.tokens | joined) for e in missing)


def _holds(tokens: frozenset[str], key: str) -> bool:
    return key in tokens or key + "s" in tokens or (key[-1] == "s" and key[:-1] in tokens)


def _expanded(keys: Sequence[str]) -> list[str]:
    """Three-token joins, and the words of any abbreviation among the keys."""
    out = [a + b + c for a, b, c in zip(keys, keys[1:], keys[2:], strict=False)]
    if not _ALIASES.keys().isdisjoint(keys):
        for key in keys:
            if key in _ALIASES:
                words = _ALIASES[key].split()
                out.extend((*words, "".join(words)))
    return out


def _abbreviates(key: str, tokens: frozenset[str]) -> bool:
    expansion = _ALIASES.get(key)
    if expansion is not None and expansion.replace(" ", "") in tokens:
        return True
    if len(key) > 3 and _numeronym(key) in tokens:
        return True
    shape = _NUMERONYM.fullmatch(key)
    return shape is not None and any(len(t) > 3 and _numeronym(t) == key for t in tokens)


def _numeronym(word: str) -> str:
    """kubernetes → k8s, internationalization → i18n."""
    return f"{word[0]}{len(word) - 2}{word[-1]}"


# --- reading a text -------------------------------------------------------------------

_QUOTES: Final = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00b4": "'"})
# A chunk between spaces that is not a plain word is split by this pattern.
_TOKEN: Final = re.compile(
    r"""
    (?P<code>
        (?:https?://|www\.)[^\s<>"'`]*[^\s<>"'`.,;:!?)\]]      # URL
      | [\w.+-]+@[\w-]+(?:\.[\w-]+)+                            # e-mail
      | (?<![\w/.])(?:~|\.{1,2})?/[\w.~-]+(?:/[\w.~-]+)*/?      # path
      | ^--?[a-z][\w-]*                                         # --flag
      | [a-z_]\w*(?:\.[a-z_]\w*)+                               # dotted.name
    )
  | (?P<word>(?!v\d)[^\W\d]\w*(?:['-]\w+)*)
  | (?P<time>(?<![\w.:])\d{1,2}(?::\d{2})?[ap]\.?m\b\.?|(?<![\w.:])\d{1,2}:\d{2}(?![\d:]))
  | (?P<num>(?<![\w.])(?P<sign>-)?(?:[$€£¥]|v(?=\d))?
        (?P<digits>\d+(?:,\d{3})*(?:\.\d+)*)(?P<suffix>%|°[cf]?|[a-z]+)?(?!\w))
  | (?P<other>\w+(?:['-]\w+)*)
  | (?P<stop>[.!?:;](?=\w))
    """,
    re.VERBOSE | re.IGNORECASE,
)
_LEADING: Final = "([{<\"'`*"
_TRAILING: Final = ",;:!?.)]}>\"'`*"
_BOUNDARY: Final = frozenset(".!?:;")
_TIME: Final = re.compile(r"(\d+)(?::(\d+))?([ap])?", re.IGNORECASE)
_QUOTED: Final = re.compile(r"\"([^\"\n]{1,200})\"|`([^`\n]{1,200})`|(?<!\w)'([^'\n]{1,200})'(?!\w)")
_WORD: Final = re.compile(r"\w+")
_NON_ALNUM: Final = re.compile(r"[\W_]+")
_TRAILING_DIGITS: Final = re.compile(r"[a-z]+(\d+)")
_NUMERONYM: Final = re.compile(r"[a-z]\d+[a-z]")
# Standard abbreviations a name may be written as.
_ALIASES: Final = _mapping(
    "js=javascript ts=typescript py=python postgres=postgresql golang=go us=united_states usa=united_states "
    "uk=united_kingdom eu=european_union nyc=new_york wwi=world_war_i ww1=world_war_i wwii=world_war_ii "
    "ww2=world_war_ii jan=january feb=february mar=march apr=april jun=june jul=july aug=august sep=september "
    "sept=september oct=october nov=november dec=december"
)

# Words that are never names, even when capitalised mid-sentence or quoted.
_COMMON: Final = _wordset(
    "a an the and or but if of to in on at by for with from about as into is are was were be been am do does did "
    "can could should would will shall may might must have has had i i'm i've i'd i'll me my we our you your he she "
    "it its they them their this that these those what which who whom whose when where why how there here please "
    "thanks thank hi hello hey yes no not so than then also just any some all each every ok okay vs versus"
)
_UNITS: Final = _wordset(
    "k m b bn km kg g mg mcg ml l mm cm mi ft oz lb lbs gb mb kb tb gbps mbps ghz mhz hz w kw kwh mah v ms s sec "
    "secs min mins h hr hrs yr yrs yo x px pt em rem vh vw fps mph kph kmh c f kib mib gib tib"
)
_ORDINAL_SUFFIXES: Final = frozenset({"st", "nd", "rd", "th"})
_DEGREES: Final = {"°": ("degrees",), "°c": ("degrees", "celsius", "c"), "°f": ("degrees", "fahrenheit", "f")}
# Parts of code names that do not tell one name from another.
_GENERIC_PARTS: Final = _wordset("com org net io www http https prototype self this js")
_UN_EXCEPTIONS: Final = _wordset("unless until unto uncle")  # besides under- and uni- words
_DIS_EXCEPTIONS: Final = _wordset(
    "display displays displayed discount discounts discuss discussion dispatch dispose discover discovery discipline "
    "distance district distribute distribution disk disks dish disc discord disney disease diseases distro distinct "
    "disaster dismiss dispute disorder disposal"
)


def _alnum(s: str) -> str:
    return s if s.isalnum() else _NON_ALNUM.sub("", s)


def _clock(hour: int, minute: int, half: str) -> str:
    """24-hour `H:MM`; `half` is "a", "p" or ""."""
    if half == "p" and hour < 12:
        hour += 12
    elif half == "a" and hour == 12:
        hour = 0
    return f"{hour}:{minute:02d}"


def _canonical(digits: str) -> str:
    """`1,000` → `1000`, `10.0` → `10`, `007` → `7`; `3.10` and `1.2.3` stay as written."""
    head, dot, tail = digits.replace(",", "").partition(".")
    if not dot:
        return str(int(head))
    if "." in tail:
        return f"{head}.{tail}"
    return str(int(head)) if tail.strip("0") == "" else f"{int(head)}.{tail}"


class _Reader:
    """One pass over a text's tokens. `words` is the stream the rules read: lowercase
    words, `#<number>` for numbers and `^<key>` for names (inert to the word rules)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.words: list[str] = []
        self.keys: list[str] = []  # every token's key, in order
        self.entities: set[str] = set()
        self.prefixed: set[tuple[str, str]] = set()
        self.cues: list[int] = []  # positions in words of negation cues
        self.numeric = False  # a number in digits was read
        self._caps: list[tuple[int, str]] = []  # (position in words, key) of capitalised words
        self._shouts: list[str] = []  # ALL-CAPS words
        self._alpha = self._lowercase = self._capitalised = self._upper = 0
        words, keys, at_start, alpha, lowercase = self.words, self.keys, True, 0, 0
        for chunk in text.split():
            if chunk.islower() and chunk.isalpha():
                core, tail = chunk, ""
            else:
                core = chunk.rstrip(_TRAILING)
                tail = chunk[len(core) :]
                core = core.lstrip(_LEADING)
                if core.isalpha() and (core == "I" or (at_start and core.istitle())):
                    core = core.lower()  # capitalised by position only: a plain word
                elif not (core.islower() and core.isalpha()):
                    if core.isdigit():
                        self.numeric = True
                        keys.append(core)
                        words.append("#" + _canonical(core))
                        at_start = False
                    elif core and core[0] != "-" and core.replace("'", "").replace("-", "").isalpha():
                        self._word(core, at_start, tail)
                        at_start = False
                    elif core:
                        self._split(core, at_start)
                        at_start = False
                    if tail and not _BOUNDARY.isdisjoint(tail):
                        at_start = True
                    continue
            # the common case, a lowercase word, inline
            keys.append(core)
            size = len(core)
            if size > 1:
                alpha += 1
                if size > 3 and not at_start:
                    lowercase += 1
                if core in _NEGATIONS:
                    if core == "no" and tail[:1] in (",", ".", "!"):
                        core = "no_"  # "No, ..." answers rather than negates
                    else:
                        self.cues.append(len(words))
                elif size > 4 and core[0] in "ud":
                    self._prefix(core)
            words.append(core)
            at_start = bool(tail) and not _BOUNDARY.isdisjoint(tail)
        self._alpha += alpha
        self._lowercase += lowercase
        if '"' in text or "`" in text or text.count("'") > 1:
            self._quoted()
        self._settle_names()

    def _split(self, chunk: str, at_start: bool) -> None:
        for m in _TOKEN.finditer(chunk):
            kind = m.lastgroup
            if kind == "word" or kind == "other":
                self._word(m.group(), at_start, "")
            elif kind == "num":
                self.numeric = True
                self._number(m)
            elif kind == "time":
                self.numeric = True
                self._time(m.group())
            elif kind == "code":
                self._code(m.group().lower())
            else:
                at_start = True
                continue
            at_start = False

    def _word(self, tok: str, at_start: bool, tail: str) -> None:
        if tok[-2:].lower() == "'s":
            tok = tok[:-2]
        low = tok.lower()
        key = _alnum(low)
        if not key:
            return
        self.keys.append(key)
        if "_" in low:  # snake_case
            parts = [p for p in _NON_ALNUM.split(low) if p]
            self.keys.extend(parts)
            self._name(key, parts)
        elif key.isdigit():
            self.numeric = True
            self.words.append("#" + _canonical(key))
        elif not key.isalpha():  # letters and digits: E404, python3, x86
            self._name(key)
            digits = _TRAILING_DIGITS.fullmatch(key)
            if digits:
                self.numeric = True
                self.keys.append(key[: digits.start(1)])
                self.words.append("#" + _canonical(digits.group(1)))
        else:
            if len(key) > 1:
                self._alpha += 1
            if tok == low:
                self._lowercase += len(key) > 3 and not at_start
            else:
                self._classify(tok, low, key, at_start)
            if low in _NEGATIONS or low.endswith("n't"):
                if low == "no" and tail[:1] in (",", ".", "!"):
                    low = "no_"
                else:
                    self.cues.append(len(self.words))
            elif low[0] in "ud" and len(low) > 4:
                self._prefix(low)
            if "-" not in low:
                self.words.append(low)
                return
            parts = [p for p in low.split("-") if p]
            if len(parts) > 1 and parts[-1] == "free":  # gluten-free: without gluten
                self.cues.append(len(self.words))
            self.keys.extend(parts)
            self.numeric = self.numeric or any(p.isdigit() for p in parts)
            self.words.extend("#" + _canonical(p) if p.isdigit() else p for p in parts)

    def _classify(self, tok: str, low: str, key: str, at_start: bool) -> None:
        if len(key) > 1 and key in _UNITS:  # MB, GiB, Hz: units are not compared
            return
        if tok.isupper():
            if len(key) > 1:
                self._upper += 1
                if low not in _COMMON:
                    self._shouts.append(key)
            elif not at_start and key != "i":  # vitamin C, plan B
                self._caps.append((len(self.words), key))
        elif tok[1:].islower():
            if not at_start:
                self._capitalised += 1
                if low not in _COMMON:
                    self._caps.append((len(self.words), key))
        else:  # iPhone, JavaScript, Wi-Fi: a name wherever it stands
            self.entities.add(key)
            initials = "".join(c for c in tok if c.isupper()).lower()
            if len(initials) > 1:  # JavaScript is also JS
                self.keys.append(initials)

    def _prefix(self, low: str) -> None:
        if low.startswith("un") and not low.startswith(("under", "uni")) and low not in _UN_EXCEPTIONS:
            stem = low[2:]
        elif low.startswith("dis") and low not in _DIS_EXCEPTIONS:
            stem = low[3:]
        else:
            return
        if len(stem) > 2 and low not in _POLAR and low not in _NEGATIONS:
            self.prefixed.add((stem, low))

    def _number(self, m: re.Match[str]) -> None:
        sign, digits, suffix = m.group("sign", "digits", "suffix")
        value = _canonical(digits)
        if sign and value != "0":
            value = "-" + value
        suffix = (suffix or "").lower()
        key = _alnum(digits)
        if suffix[:1] == "°":  # 37.5°C is 37.5 degrees Celsius
            self.keys.extend(_DEGREES.get(suffix, ()))
            suffix = ""
        if not suffix or suffix == "%" or suffix in _UNITS:
            self.words.append("#" + (_scaled(value, 1000) if suffix == "k" else value))
        elif suffix in _ORDINAL_SUFFIXES:  # 1st is also "first" (polarity)
            self.words.extend(("first", "#1") if value == "1" else ("#" + value,))
        else:  # 2FA, 3D: a name that starts with digits
            self._name(key + suffix)
        self.keys.extend((key, suffix, key + suffix) if suffix.isalpha() else (key,))

    def _time(self, tok: str) -> None:
        m = _TIME.match(tok)
        if m is None:  # cannot happen: the token pattern matched a time
            return
        self.words.append("#" + _clock(int(m.group(1)), int(m.group(2) or 0), (m.group(3) or "").lower()))
        self.keys.append(_alnum(tok.lower()))

    def _code(self, low: str) -> None:
        parts = [p for p in _NON_ALNUM.split(low) if p]
        key = "".join(parts)
        if not key:
            return
        self.keys.append(key)
        if all(len(p) == 1 for p in parts):  # e.g., i.e., U.S.: an abbreviation, not code
            self.words.append(key)
            return
        self.keys.extend(parts)
        self._name(key, parts)

    def _name(self, key: str, parts: Sequence[str] = ()) -> None:
        """A name; code names by their parts ("Array.prototype.map" is "array" and "map")."""
        if parts:
            self.entities.update(p for p in parts if p not in _GENERIC_PARTS)
        else:
            self.entities.add(key)
        self.words.append("^" + key)

    def _quoted(self) -> None:
        for m in _QUOTED.finditer(self.text):
            inner = m.group(m.lastindex or 1).lower()
            self.entities.update(w for w in _WORD.findall(inner) if len(w) > 1 and w not in _COMMON)

    def _settle_names(self) -> None:
        # Title Case: capitals everywhere, few long lowercase words ("How to Enable 2FA on Gmail").
        title = self._capitalised >= 3 and self._lowercase * 4 <= self._capitalised
        if not title:  # in Title Case capitals say nothing; otherwise they mark names
            for at, key in self._caps:
                self.words[at] = "^" + self.words[at]
                self.entities.add(key)
        shouting = self._upper >= 3 and self._upper * 5 >= self._alpha * 3
        if not shouting:
            self.entities.update(self._shouts)


# --- negation -------------------------------------------------------------------------

_NEGATIONS: Final = _wordset(
    "not no never none nobody nothing nowhere noone neither nor without cannot unable dont doesnt didnt isnt arent "
    "wasnt werent cant couldnt shouldnt wouldnt wont hasnt havent hadnt aint mustnt neednt"
)


def _negated(words: Sequence[str], cues: Sequence[int]) -> bool:
    """Some cue counts: not one after "or" ("whether or not", "with or without"), nor
    "not only", nor a capitalised one inside a name ("Not Found")."""
    for i in cues:
        w = words[i]
        if w[0] == "^" or (i and words[i - 1] == "or") or (w == "not" and words[i + 1 : i + 2] == ["only"]):
            continue
        return True
    return False


# --- numbers --------------------------------------------------------------------------

_SMALL: Final = _counted("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen") | (
    _counted("fifteen sixteen seventeen eighteen nineteen", start=15)
    | _counted("twenty thirty forty fifty sixty seventy eighty ninety", start=2, step=10)
)
_SCALES: Final = {"hundred": 100, "dozen": 12, "thousand": 10**3, "million": 10**6, "billion": 10**9}
_WORD_VALUES: Final = {"half": "0.5", "twice": "2", "thrice": "3", "noon": "12:00", "midnight": "0:00"} | {
    w: str(i)
    for w, i in _counted(
        "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth fifteenth "
        "sixteenth seventeenth eighteenth nineteenth twentieth",
        start=3,
    ).items()
}
_SOFT_ONES: Final = frozenset({"a", "an", "once", "first"})
_NUMBER_WORDS: Final = frozenset((*_SMALL, *_SCALES, *_WORD_VALUES))
_NUMERIC_WORDS: Final = _NUMBER_WORDS | _SOFT_ONES


def _numbers(words: Sequence[str]) -> tuple[list[str], int]:
    """The numbers a text states, and how many words may or may not mean 1."""
    out: list[str] = []
    soft = 0
    i, n = 0, len(words)
    while i < n:
        w = words[i]
        if w[0] == "#":
            value = w[1:]
            after = words[i + 1] if i + 1 < n else ""
            if after in _SCALES:
                value = _scaled(value, _SCALES[after])
                i += 1
            elif after in ("am", "pm") and value.isdigit() and 0 < int(value) <= 12:  # "3 pm"
                value = _clock(int(value), 0, after[0])
                i += 1
            out.append(value)
        elif w in _NUMERIC_WORDS:
            if w in _SOFT_ONES:
                soft += 1
            elif w in _WORD_VALUES:
                out.append(_WORD_VALUES[w])
            else:
                i, values = _spelled(words, i)
                if values == [1] and words[i - 1] == "one":
                    soft += 1
                else:
                    out.extend(map(str, values))
                continue
        i += 1
    return out, soft


def _spelled(words: Sequence[str], i: int) -> tuple[int, list[int]]:
    """Read number words from `i`: "twenty five" → 25, "two hundred and six" → 206,
    "five twenty" → 5, 20. Returns where reading stopped and the values."""
    out: list[int] = []
    total = group = 0
    started = False
    n = len(words)
    while i < n:
        w = words[i]
        if w in _SMALL:
            v = _SMALL[w]
            joins = group == 0 or group % 100 == 0 or (group % 100 >= 20 and group % 10 == 0 and v < 10)
            if started and not joins:
                out.append(total + group)
                total = group = 0
            group += v
        elif w in _SCALES:
            scale = _SCALES[w]
            if scale < 1000:
                group = (group or 1) * scale
            else:
                total, group = total + (group or 1) * scale, 0
        elif not (w == "and" and group % 100 == 0 and (group or total) and i + 1 < n and words[i + 1] in _SMALL):
            break
        started = True
        i += 1
    out.append(total + group)
    return i, out


def _scaled(value: str, scale: int) -> str:
    if ":" in value or value.count(".") > 1:
        return value
    return format((Decimal(value) * scale).normalize(), "f")


# --- polarity -------------------------------------------------------------------------

# axis: positive pole | negative pole. `word+` adds regular inflections (enables, enabled,
# enabling); `a_b` is a two-word phrase, read before its words.
_AXES: Final = """
amount: increase+ raise+ grow+ grew grown boost+ more higher highest high gain+ rise+ rose risen up upward upwards
  upper maximize+ maximise+ extend+ double+ scale+_up turn+_up go+_up |
  decrease+ reduce+ lower+ lowest low shrink+ shrank shrunk cut cutting less fewer fewest lose+ lost loss losses
  drop+ down downward downwards decline+ minimize+ minimise+ shorten+ halve+ scale+_down turn+_down go+_down
max: max maximum maximal most at_most | min minimum minimal least at_least
size: big bigger biggest large larger largest huge giant | small smaller smallest tiny
length: long longer longest tall taller tallest lengthen+ long_term | short shorter shortest brief short_term
enable: enable+ activate+ turn+_on switch+_on power+_on power+_up | disable+ deactivate+ turn+_off switch+_off
  power+_off power+_down shut+_off
allow: allow+ permit+ unblock+ whitelist+ allowlist+ | deny+ block+ forbid forbids forbidding forbade forbidden ban+
  prohibit+ blacklist+ blocklist+ restrict+
start: start+ begin+ began begun launch+ boot+ start+_up boot+_up | stop+ end+ finish+ halt+ terminate+ kill+ quit+
  exit+ shutdown shut+_down
open: open+ unlock+ reopen+ | close+ shut lock+ closure
near: near nearer nearest nearby close_to closer closest | far farther farthest distant
time: before prior early earlier earliest sooner pre | after afterwards later late post
above: above over exceeding beyond | below under beneath underneath
order: first initial | last final
sequence: next following upcoming future | previous last past preceding
quality: best better good great excellent | worst worse bad poor terrible awful
price: expensive pricey pricier priciest costly overpriced luxury | cheap cheaper cheapest inexpensive affordable
speed: fast faster fastest quick quicker quickest quickly rapid rapidly speed+_up |
  slow slower slowest slowly sluggish slow+_down
trade: buy+ bought purchase+ | sell+ sold
port: import+ | export+
transfer: upload+ | download+
crypt: encrypt+ encryption encode+ encoding | decrypt+ decryption decode+ decoding
compress: compress+ compression zip+ | decompress+ decompression unzip+ extract+
session: login+ log+_in sign+_in signin logon | logout+ log+_out log+_off sign+_out signout
subscribe: subscribe+ sign+_up signup opt+_in enroll+ enrol+ register+ | unsubscribe+ opt+_out cancel+
reserve: book+ reserve+ reservation | cancel+ cancellation
temperature: hot hotter hottest warm warmer warmest heat+ heater boil+ warm+_up |
  cold colder coldest cool cooler coolest freeze+ froze frozen chill+ cool+_down
truth: true correct accurate | false incorrect wrong inaccurate
legal: legal lawful legally | illegal unlawful illegally
validity: valid | invalid
possibility: possible | impossible
merit: pros advantage advantages benefit benefits upside upsides positives |
  cons disadvantage disadvantages drawback drawbacks downside downsides risk risks danger dangers negatives
  side_effect side_effects
diet: eat+ ate eaten drink+ drank consume+ | avoid+
win: win+ won winner winners victory profit+ profitable | lose+ lost loser losers loss losses defeat+ unprofitable
io: input+ | output+
transmit: send+ sent sender | receive+ receiver recipient
git: push+ | pull+
age: new newer newest latest recent modern | old older oldest outdated legacy ancient
side: inside internal interior indoor indoors inner inbound incoming |
  outside external exterior outdoor outdoors outer outbound outgoing
sign: positive plus | negative minus
approval: accept+ approve+ approval | reject+ decline+ refuse+ refusal rejection
loan: lend+ lent lender | borrow+ borrower
north: north northern northbound | south southern southbound
east: east eastern eastbound | west western westbound
hand: left | right
vertical: top | bottom
grade: upgrade+ | downgrade+
install: install+ installation reinstall+ | uninstall+
connect: connect+ plug+_in attach+ mount+ | disconnect+ unplug+ detach+ unmount+
addition: add+ insert+ append+ | remove+ delete+ deletion removal subtract+ erase+
inclusion: include+ including inclusive | exclude+ excluding except exclusion
arithmetic: multiply+ multiplication | divide+ division
gender: male males man men boy boys | female females woman women girl girls
maturity: adult adults parent parents grown_up |
  child children kid kids infant infants toddler toddlers baby babies pediatric
daytime: morning mornings daytime sunrise | evening evenings night nights nighttime tonight sunset
week: weekday weekdays | weekend weekends
scope: domestic | international abroad overseas foreign
access: public | private
travel: arrive+ arrival arrivals | depart+ departure departures
shade: light lighter | dark darker
orientation: horizontal horizontally | vertical vertically
sort: ascending asc | descending desc
case: uppercase upper_case | lowercase lower_case
edge: prefix leading | suffix trailing
tier: frontend front_end client | backend back_end server
timing: synchronous sync synchronously | asynchronous async asynchronously
typing: static statically | dynamic dynamically
location: local locally | remote remotely
card: debit | credit
bank: deposit+ | withdraw+ withdrew withdrawn withdrawal withdrawals
flow: income revenue earnings | expense expenses expenditure spending
safety: safe safely safety secure | dangerous harmful risky hazardous unsafe insecure
outcome: succeed+ success successful successfully | fail+ failure failures unsuccessful
network: online | offline
visibility: show+ showed shown visible unhide+ | hide+ hid hidden invisible
fold: expand+ | collapse+
zoom: zoom+_in | zoom+_out
stay: check+_in checkin | check+_out checkout
file: read+ | write+ wrote written
merge: merge+ combine+ join+ concatenate+ concat | split+ splitting separate+
membership: join+ | leave leaves leaving
storage: save+ | load+
pause: pause+ suspend+ | resume+ unpause+
"""
# Phrasal verbs whose particle says nothing about direction ("set up" is not "up").
_NEUTRAL: Final = (
    "set+_up look+_up back+_up pick+_up follow+_up clean+_up wake+_up show+_up make+_up made_up end+_up give+_up "
    "gave_up hang+_up mix+_up pop+_up bring+_up brought_up come+_up came_up keep+_up kept_up catch+_up fill+_up "
    "free+_up line+_up sum+_up hold+_up break+_down broke_down calm+_down write+_down wrote_down narrow+_down "
    "track+_down sit+_down boil+_down let+_down put+_down tear+_down step+_down back+_down up_to how_long "
    "as_long no_longer open_source"
)
_TURNS: Final = frozenset(("turn", "turns", "turned", "turning", "switch", "switches", "switched", "switching"))
_MODIFIERS: Final = {"more": 1, "most": 1, "less": -1, "least": -1}


def _forms(item: str) -> tuple[str, ...]:
    """`enable+` → enable, enables, enabled, enabling (and harmless non-words)."""
    if not item.endswith("+"):
        return (item,)
    w = item[:-1]
    if w.endswith("e"):
        return (w, w + "s", w + "d", w + "ing" if w.endswith("ee") else w[:-1] + "ing")
    if w.endswith("y") and w[-2] not in "aeiou":
        return (w, w[:-1] + "ies", w[:-1] + "ied", w + "ing")
    plural = w + ("es" if w.endswith(("s", "sh", "ch", "x", "z")) else "s")
    return (w, plural, w + "ed", w + "ing", w + w[-1] + "ed", w + w[-1] + "ing")


def _lexicon(axes: str, neutral: str) -> tuple[dict[str, Marks], dict[tuple[str, str], Marks]]:
    singles: dict[str, Marks] = {}
    phrases: dict[tuple[str, str], Marks] = {}
    for line in axes.replace("\n  ", " ").strip().splitlines():
        axis, _, poles = line.partition(":")
        plus, _, minus = poles.partition("|")
        for sign, items in ((1, plus), (-1, minus)):
            for item in items.split():
                head, _, tail = item.partition("_")
                for form in _forms(head):
                    if tail:
                        phrases[form, tail] = (*phrases.get((form, tail), ()), (axis, sign))
                    else:
                        singles[form] = (*singles.get(form, ()), (axis, sign))
    for item in neutral.split():
        head, _, tail = item.partition("_")
        phrases.update(((form, tail), ()) for form in _forms(head))
    return singles, phrases


_POLAR, _PHRASES = _lexicon(_AXES, _NEUTRAL)

_HEAD, _MODIFIER, _MARKED, _TURN, _PARTICLE = 1, 2, 4, 8, 16


def _roles() -> dict[str, int]:
    """word → what it may do, so most words cost one lookup."""
    roles = {w: _HEAD for w, _ in _PHRASES}
    for group, role in ((_MODIFIERS, _MODIFIER), (_POLAR, _MARKED), (_TURNS, _TURN), (("on", "off"), _PARTICLE)):
        for w in group:
            roles[w] = roles.get(w, 0) | role
    return roles


_ROLES: Final = _roles()


def _polarity(words: Sequence[str]) -> dict[str, int]:
    """axis → mask of the poles the text takes (1 positive, 2 negative)."""
    found: list[tuple[Marks, int]] = []
    i, n, turned = 0, len(words), -9
    while i < n:
        w = words[i]
        role = _ROLES.get(w)
        i += 1
        if role is None:
            continue
        after = words[i] if i < n else ""
        if role & _HEAD and (w, after) in _PHRASES:
            found.append((_PHRASES[w, after], 1))
            i += 1
        elif role & _MODIFIER and after in _POLAR:  # "least expensive" = "cheapest"
            found.append((_POLAR[after], _MODIFIERS[w]))
            i += 1
        elif role & _MARKED:
            found.append((_POLAR[w], 1))
        elif role & _TURN:
            turned = i
        elif role & _PARTICLE and i - turned <= 4:  # "turn the wifi off"
            found.append(((("enable", 1 if w == "on" else -1),), 1))
    marks: dict[str, int] = {}
    for hit, sign in found:
        for axis, pole in hit:
            marks[axis] = marks.get(axis, 0) | (1 if pole * sign > 0 else 2)
    return marks


# --- direction ------------------------------------------------------------------------

_CONNECTORS: Final = {"to": "to", "into": "to", "from": "from", "in": "in"}
_ARTICLES: Final = frozenset({"a", "an", "the", "one"})


def _pairs(words: Sequence[str]) -> frozenset[tuple[str, str, str]]:
    """Directed pairs: "miles to km" → ("to", "mile", "km"); "from" points the other way;
    "ounces are in a cup" → ("in", "ounce", "cup"). Small words between are skipped."""
    found: set[tuple[str, str, str]] = set()
    n = len(words)
    for i in range(1, n - 1):
        tag = _CONNECTORS.get(words[i])
        if tag is None:
            continue
        j, k = i + 1, i - 1
        while j < n - 1 and words[j] in _ARTICLES:
            j += 1
        while k > 0 and k > i - 3 and words[k] in _COMMON:
            k -= 1
        left, right = _stem(words[k]), _stem(words[j])
        if left in _COMMON or right in _COMMON or left == right or left in _CONNECTORS:
            continue
        found.add(("in", left, right) if tag == "in" else ("to", right, left) if tag == "from" else ("to", left, right))
    return frozenset(found)


def _stem(word: str) -> str:
    word = word.lstrip("^")
    return word[:-1] if len(word) > 3 and word[-1] == "s" and word[-2] != "s" else word
