"""Toxicity guardrail: a weighted word-and-phrase classifier for model answers.

No ML model is available offline, so this is a documented lexicon (`toxicity_lexicon.py`,
written for Envelope, CC0) read through a normaliser that undoes simple evasion:

1. NFKC, case folding, accents and zero-width characters dropped, a few Cyrillic
   look-alikes mapped to Latin;
2. leetspeak inside words (4→a, 3→e, 1→i or l, 0→o, $/5→s, @→a, 7→t, !→i);
3. letters repeated three or more times matched in their squeezed form ("fuuuuck");
4. single letters split by spaces or punctuation joined ("f.u.c.k", "k y s"), masked
   letters matched ("f*ck"), split compounds joined ("ass hole").

Matching is by whole token, so "Scunthorpe", "assessment", "cocktail", "therapist"
and "grape" never match. Phrases cover insults, self-harm encouragement and group
hate ("<group> are vermin"); a small grammar finds first-person threats ("I'll
<harm verb> you", but not "I would never hurt you"). Each root (a word and its
inflections) counts once at its strongest occurrence; the score is a noisy-or of the
weights. Severe terms reach the default threshold alone, mild profanity does not.
An insult aimed at the reader ("you are a total idiot") weighs more; a term standing
alone in quotes ('the word "idiot"') weighs much less, as a mention, not a use.

Known blind spots: self-harm phrases under negation or reported speech ("I would
never tell you to kill yourself") still match; quoting evades; unseen spellings
("fvck"), sarcasm, and hostility without listed words ("your code is garbage and so
are you") are missed. See data/TOXICITY.md for the evaluation.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from envelope.guardrails import toxicity_lexicon as lexicon
from envelope.guardrails.toxicity_lexicon import CATEGORIES

__all__ = ["CATEGORIES", "ToxicityFilter", "ToxicityVerdict"]

_MENTION_FACTOR = 0.25  # a quoted term is talked about, not aimed at anyone
_AIM_BONUS = 0.35  # "you idiot" is an insult; "the idiot who wrote this (me)" barely is
_FILLER_REACH = 4
_AIMABLE = frozenset({"insult", "sexual"})

_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_COMBINING = re.compile("[\u0300-\u036f]")  # the accents NFD splits off Latin letters
_LOOKALIKES = str.maketrans("аеорсухіѕјԁһ", "aeopcyxisjdh")
_LEET = str.maketrans("43105@$7!|", "aeiosastil")
_LEET_L = str.maketrans("1", "l")
_PIECE = re.compile(r"[a-z0-9@$!*#|']+")
_EDGE = "!*#|'"
_CONTRACTION = re.compile(r"(.+?)(n't|'ll|'re|'d|'m|'ve|'s)")
_GAP = re.compile(r"[\s.\-_~+/*]{1,3}")
_RUN = re.compile(r"([a-z])\1{2,}")
_SQUEEZE = re.compile(r"([a-z])\1+")
_STARRED = re.compile(r"[a-z0-9@$](?:\*[a-z0-9@$])+")
_OPEN_QUOTES = "\"'“‘«"
_CLOSE_QUOTES = "\"'”»"


@dataclass(frozen=True, slots=True)
class ToxicityVerdict:
    """The filter's decision on one text."""

    toxic: bool
    score: float  # 0..1, noisy-or of the matched weights
    categories: tuple[str, ...]  # of the matches, in CATEGORIES order
    matches: tuple[str, ...]  # matched terms in normalised spelling, first occurrence first


@dataclass(frozen=True, slots=True)
class _Entry:
    root: str
    category: str
    weight: float


@dataclass(frozen=True, slots=True)
class _Token:
    text: str  # normalised spelling
    start: int  # span in the normalised text, for quote checks
    end: int


@dataclass(frozen=True, slots=True)
class _Hit:
    first: int  # token range
    last: int
    term: str
    entry: _Entry


_Slots = tuple[tuple[tuple[str, ...], ...], ...]


@dataclass(frozen=True, slots=True)
class _Pattern:
    slots: _Slots  # each slot: the token sequences that may fill it
    entry: _Entry | None  # None: an innocent phrase whose tokens are never matched


class ToxicityFilter:
    """Word-list toxicity check, built once with its options and shared across requests."""

    __slots__ = ("_active", "_threshold")

    def __init__(self, *, threshold: float = 0.5, categories: Sequence[str] | None = None) -> None:
        """`categories` limits the check to some of CATEGORIES; None checks them all."""
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        active = CATEGORIES if categories is None else tuple(categories)
        unknown = sorted(set(active) - set(CATEGORIES))
        if unknown or not active:
            raise ValueError(f"categories must be a non-empty subset of {', '.join(CATEGORIES)}")
        self._threshold = threshold
        self._active = frozenset(active)

    def check(self, text: str) -> ToxicityVerdict:
        """Score `text`; toxic when the score reaches the threshold."""
        normal = _normalise(text)
        tokens = _tokenise(normal)
        texts = [token.text for token in tokens]
        strongest: dict[str, float] = {}
        terms: dict[str, None] = {}  # ordered set
        found: dict[str, None] = {}
        for hit in sorted(_hits(texts), key=lambda hit: hit.first):
            if hit.entry.category not in self._active:
                continue
            weight = _weight(hit, texts, tokens, normal)
            strongest[hit.entry.root] = max(weight, strongest.get(hit.entry.root, 0.0))
            terms[hit.term] = None
            found[hit.entry.category] = None
        score = 1.0 - math.prod(1.0 - weight for weight in strongest.values())
        return ToxicityVerdict(
            toxic=score >= self._threshold,
            score=round(score, 4),
            categories=tuple(category for category in CATEGORIES if category in found),
            matches=tuple(terms),
        )


def _normalise(text: str) -> str:
    """Lower case, compatibility forms, no accents, zero-width characters or look-alikes."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isascii():
        return folded
    folded = _INVISIBLE.sub("", folded).translate(_LOOKALIKES).replace("’", "'")  # the apostrophe of "you’re"
    return unicodedata.normalize("NFC", _COMBINING.sub("", unicodedata.normalize("NFD", folded)))


def _weight(hit: _Hit, texts: Sequence[str], tokens: Sequence[_Token], normal: str) -> float:
    weight = hit.entry.weight
    if hit.entry.category in _AIMABLE and " " not in hit.term and _aimed(texts, hit):
        weight = min(0.95, weight + _AIM_BONUS)
    start, end = tokens[hit.first].start, tokens[hit.last].end
    if start > 0 and normal[start - 1] in _OPEN_QUOTES and end < len(normal) and normal[end] in _CLOSE_QUOTES:
        weight *= _MENTION_FACTOR
    return weight


def _aimed(texts: Sequence[str], hit: _Hit) -> bool:
    """Whether an insult is aimed at the reader: "you (are a total) idiot", "idiot like you"."""
    before = hit.first - 1
    while before >= 0 and hit.first - before <= _FILLER_REACH and texts[before] in lexicon.FILLERS:
        before -= 1
    if before >= 0 and texts[before] in ("you", "your"):
        return True
    after = tuple(texts[hit.last + 1 : hit.last + 3])
    return after in (("you", "are"), ("you", "were"), ("like", "you"))


# --- tokens ---------------------------------------------------------------------------


def _tokenise(normal: str) -> list[_Token]:
    tokens: list[_Token] = []
    for raw, start, end in _join_letters(normal, list(_pieces(normal))):
        tokens.extend(_Token(word, start, end) for word in _words(raw))
    return tokens


def _words(raw: str) -> tuple[str, ...]:
    """The normalised word(s) one piece of text stands for: "you're" → ("you", "are")."""
    contraction = _CONTRACTION.fullmatch(raw) if "'" in raw else None
    if contraction is None:
        word = _canonical(raw)
        return lexicon.CHAT_SPEAK.get(word, (word,))
    stem, ending = contraction.groups()
    word = _canonical(stem)
    if ending == "n't":
        word = lexicon.NEGATIVE_STEMS.get(word, word)
    return (word, *lexicon.CONTRACTIONS[ending])


def _pieces(normal: str) -> Iterator[tuple[str, int, int]]:
    for match in _PIECE.finditer(normal):
        raw = match.group()
        word = raw.strip(_EDGE)
        if word:
            start = match.start() + len(raw) - len(raw.lstrip(_EDGE))
            yield word, start, start + len(word)


def _join_letters(normal: str, pieces: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Single letters spaced or dotted apart ("f u c k", "k.y.s") joined when they spell a known word."""
    out: list[tuple[str, int, int]] = []
    index = 0
    while index < len(pieces):
        run_end = index + 1
        while (
            len(pieces[run_end - 1][0]) == 1
            and run_end < len(pieces)
            and len(pieces[run_end][0]) == 1
            and _GAP.fullmatch(normal, pieces[run_end - 1][2], pieces[run_end][1])
        ):
            run_end += 1
        if run_end - index >= 3:
            out.extend(_spell(pieces[index:run_end]))
        else:
            out.extend(pieces[index:run_end])
        index = run_end
    return out


def _spell(run: list[tuple[str, int, int]]) -> Iterator[tuple[str, int, int]]:
    letters = [piece[0].translate(_LEET) for piece in run]
    index = 0
    while index < len(run):
        for end in range(min(len(run), index + _LONGEST), index + 2, -1):
            word = "".join(letters[index:end])
            if word in _VOCABULARY:
                yield word, run[index][1], run[end - 1][2]
                index = end
                break
        else:
            yield run[index]
            index += 1


def _canonical(raw: str) -> str:
    """The known spelling `raw` stands for (undoing leetspeak, elongation, masks), else its plain form."""
    word = raw.replace("'", "")
    if _STARRED.fullmatch(word):
        word = word.replace("*", "")
    if word.isalpha() and word.isascii():  # the common case: nothing to undo but elongation
        if word in _VOCABULARY or not _RUN.search(word):
            return word
        return _SQUEEZED.get(_SQUEEZE.sub(r"\1", word), word)
    if not any("a" <= char <= "z" for char in word):
        return word  # numbers and symbols are not leetspeak
    forms = dict.fromkeys((word.translate(_LEET), word.translate(_LEET_L).translate(_LEET)))
    for form in forms:
        if form in _VOCABULARY:
            return form
        if _RUN.search(form) and (squeezed := _SQUEEZED.get(_SQUEEZE.sub(r"\1", form))):
            return squeezed
        if ("*" in form or "#" in form) and (unmasked := _unmask(form)):
            return unmasked
    return next(iter(forms))


def _unmask(form: str) -> str | None:
    """'f*ck' → 'fuck': masks stand for single letters; at least half the letters must show."""
    shown = sum(char not in "*#" for char in form)
    if shown * 2 < len(form):
        return None
    pattern = re.compile("".join("[a-z]" if char in "*#" else re.escape(char) for char in form))
    return next((word for word in _WORDS_BY_LENGTH.get(len(form), ()) if pattern.fullmatch(word)), None)


# --- matching -------------------------------------------------------------------------


def _hits(texts: Sequence[str]) -> Iterator[_Hit]:
    """Innocent phrases, then phrases and grammar, then compounds, then single words."""
    taken = [False] * len(texts)
    for hit in _phrase_hits(texts, taken):
        yield hit
    for hit in _threats(texts):
        if not any(taken[hit.first : hit.last + 1]):
            taken[hit.first : hit.last + 1] = [True] * (hit.last + 1 - hit.first)
            yield hit
    for index, text in enumerate(texts):
        if taken[index]:
            continue
        if text in _JOIN_HEADS and index + 1 < len(texts) and not taken[index + 1] and len(texts[index + 1]) > 1:
            joined = text + texts[index + 1]
            if joined in _WORDS:
                taken[index + 1] = True
                yield _Hit(index, index + 1, joined, _WORDS[joined])
                continue
        base = _word_base(text)
        if base is not None:
            yield _Hit(index, index, base, _WORDS[base])


def _word_base(text: str) -> str | None:
    if text in _WORDS:
        return text
    if not text.endswith("s"):
        return None
    for suffix in ("es", "s"):
        base = text.removesuffix(suffix)
        if base != text and len(base) >= 3 and base in _WORDS:
            return base
    return None


def _phrase_hits(texts: Sequence[str], taken: list[bool]) -> Iterator[_Hit]:
    index = 0
    while index < len(texts):
        best_end, best = index, None
        for pattern in _PATTERNS_BY_FIRST.get(texts[index], ()):
            end = _match(pattern.slots, texts, index)
            if end > best_end or (end == best_end > index and best is not None and best.entry is not None):
                best_end, best = end, pattern
        if best is None:
            index += 1
            continue
        taken[index:best_end] = [True] * (best_end - index)
        if best.entry is not None:
            yield _Hit(index, best_end - 1, " ".join(texts[index:best_end]), best.entry)
        index = best_end


def _match(slots: _Slots, texts: Sequence[str], start: int) -> int:
    """The end of the longest match of `slots` at `start`, or -1."""
    if not slots:
        return start
    best = -1
    for option in slots[0]:
        end = start + len(option)
        if tuple(texts[start:end]) == option:
            best = max(best, _match(slots[1:], texts, end))
    return best


def _threats(texts: Sequence[str]) -> Iterator[_Hit]:
    """First-person harm aimed at the reader: "<I/we/someone> <modal> ... <verb> you"."""
    for verb_at, verb in enumerate(texts):
        weight = lexicon.THREAT_VERBS.get(verb)
        if weight is None:
            continue
        end = _threat_target(texts, verb_at)
        begin = _threat_subject(texts, verb_at) if end else None
        if end and begin is not None:
            yield _Hit(begin, end - 1, " ".join(texts[begin:end]), _Entry(f"threat:{verb}", "threat", weight))


def _threat_target(texts: Sequence[str], verb_at: int) -> int | None:
    following = [*texts[verb_at + 1 : verb_at + 4], "", "", ""]
    if following[0] == "you":
        return None if following[1] in lexicon.THREAT_EXCLUSIONS else verb_at + 2
    if following[0] == "your":
        if following[1] in lexicon.THREAT_TARGETS:
            return verb_at + 3
        if following[1] in ("whole", "entire", "little") and following[2] in lexicon.THREAT_TARGETS:
            return verb_at + 4
    return None


def _threat_subject(texts: Sequence[str], verb_at: int) -> int | None:
    for index in range(verb_at - 1, max(-1, verb_at - 8), -1):
        if texts[index] in lexicon.THREAT_NEGATIONS:
            return None
        if texts[index] in lexicon.THREAT_SUBJECT_MODALS:
            return index
        if index > 0 and texts[index] in lexicon.THREAT_MODALS and texts[index - 1] in lexicon.THREAT_SUBJECTS:
            return index - 1
    return None


# --- the compiled lexicon -------------------------------------------------------------


def _compile() -> tuple[dict[str, _Entry], list[_Pattern]]:
    words: dict[str, _Entry] = {}
    patterns: list[_Pattern] = []
    for line in lexicon.LEXICON.strip().splitlines():
        head, _, spellings = line.partition(":")
        category, weight = head.split()
        if category not in CATEGORIES:
            raise ValueError(f"unknown toxicity category {category!r}")
        terms = [term.strip() for term in spellings.split(",")]
        entry = _Entry(terms[0], category, float(weight))
        for term in terms:
            if " " in term:
                patterns.append(_Pattern(tuple(((word,),) for word in term.split()), entry))
            else:
                words[term] = entry
    patterns.extend(_Pattern(tuple(((word,),) for word in phrase.split()), None) for phrase in lexicon.ALLOWED)
    groups = [
        *((group,) for group in lexicon.GROUPS),
        *((adjective, "people") for adjective in lexicon.GROUP_PEOPLE),
    ]
    groups += [("the", *group) for group in groups] + [("all", *group) for group in groups]
    hate = _Entry("dehumanising", "identity_hate", 0.85)
    patterns.append(_Pattern((tuple(groups), _options(lexicon.GROUP_COPULAS), _options(lexicon.HATE_PREDICATES)), hate))
    doom = _Entry("group violence", "identity_hate", 0.9)
    patterns.append(_Pattern((_options(lexicon.GROUP_DOOM), tuple(groups)), doom))
    return words, patterns


def _options(phrases: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(phrase.split()) for phrase in phrases)


_WORDS, _PATTERNS = _compile()
_PATTERNS_BY_FIRST: dict[str, list[_Pattern]] = {}
for _pattern in _PATTERNS:  # indexed by first word, each keeping only the first-slot options that start with it
    for _first in dict.fromkeys(option[0] for option in _pattern.slots[0]):
        _options_here = tuple(option for option in _pattern.slots[0] if option[0] == _first)
        _PATTERNS_BY_FIRST.setdefault(_first, []).append(_Pattern((_options_here, *_pattern.slots[1:]), _pattern.entry))
_VOCABULARY = frozenset(
    {
        *_WORDS,
        *(word for pattern in _PATTERNS for slot in pattern.slots for option in slot for word in option),
        *lexicon.CHAT_SPEAK,
        *lexicon.THREAT_VERBS,
    }
)
# Elongated spellings ("fuuuck") are looked up squeezed; listed words win over phrase words.
_SQUEEZED = {_SQUEEZE.sub(r"\1", word): word for word in sorted(_VOCABULARY - _WORDS.keys())} | {
    _SQUEEZE.sub(r"\1", word): word for word in _WORDS
}
_WORDS_BY_LENGTH: dict[int, list[str]] = {}
for _word in _WORDS:
    _WORDS_BY_LENGTH.setdefault(len(_word), []).append(_word)
_LONGEST = max(map(len, _VOCABULARY))
# First halves of listed words, for joining split compounds ("ass hole"); both halves at least two letters.
_JOIN_HEADS = frozenset(word[:cut] for word in _WORDS for cut in range(2, len(word) - 1))
