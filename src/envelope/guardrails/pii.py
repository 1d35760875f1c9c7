"""PII detection: Presidio's pattern recognizers, run directly and offline.

`PiiDetector` is built once (recognizers constructed, regexes compiled, the public
suffix list loaded) and then called per request. It instantiates Presidio's
predefined recognizers and calls their `analyze` itself instead of going through
`AnalyzerEngine`, whose default spaCy NLP engine would try to load (and download)
`en_core_web_lg`.

Which recognizers, and why (all are checked against `data/pii.jsonl`):

- CREDIT_CARD (Luhn), IBAN_CODE (mod-97 and the country's format), CRYPTO (Bitcoin
  base58check or bech32), EMAIL_ADDRESS (the domain must end in a public suffix):
  a checksum or validator backs every match, so precision is high.
- IP_ADDRESS (IPv4, IPv6; must parse and name a host), PHONE_NUMBER (`phonenumbers`:
  valid in US/CA, GB, DE, FR, IL, IN, BR, or anywhere with a `+` prefix), US_SSN and
  US_ITIN (the dashed or spaced forms only; Presidio scores the bare nine digits
  0.05), UK_NINO (the letter-digit shape).
- UK_NHS (mod-11) only next to a context word: one ten-digit number in eleven passes
  the checksum, so phone numbers and Unix timestamps would otherwise be flagged.
- Left out: URL and DATE_TIME (not personal by themselves, and very common in
  prompts); US_BANK_NUMBER, US_PASSPORT, US_DRIVER_LICENSE and ABA_ROUTING_NUMBER
  (Presidio scores them 0.05-0.3: any 8-17 digit run would match); the other
  country-specific recognizers (out of scope for now).
- PERSON, LOCATION, NRP: only when a spaCy English model is installed
  (`en_core_web_lg`, `_md` or `_sm`), through Presidio's spaCy recognizer. None is
  installed by default (none is on PyPI), so `covered` normally leaves them out.

Without an NLP engine there are no lemmas for Presidio's context enhancer, so this
module applies the same rule itself on plain words: a context word of the recognizer
(or its plural, -ed, -ing form) among the five words before a match raises its score
by 0.35, to at least 0.4. That lifts an unformatted PHONE_NUMBER (Presidio's score
0.4) over the default threshold.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import spacy.util
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
    UkNinoRecognizer,
    UsItinRecognizer,
    UsSsnRecognizer,
)
from tldextract import TLDExtract

NER_ENTITIES = ("PERSON", "LOCATION", "NRP")
# Largest first: the first one installed is used.
SPACY_MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm")

# spaCy labels that map to no entity we report; ignoring them also keeps Presidio
# from logging "not mapped to a Presidio entity" for each one on every request.
_IGNORED_SPACY_LABELS = (
    "CARDINAL", "DATE", "EVENT", "FAC", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "ORG",
    "PERCENT", "PRODUCT", "QUANTITY", "TIME", "WORK_OF_ART", "DATE_TIME", "ORGANIZATION",
)  # fmt: skip

# Presidio's context enhancer defaults (LemmaContextAwareEnhancer).
_CONTEXT_WORDS_BEFORE = 5
_CONTEXT_BOOST = 0.35
_CONTEXT_FLOOR = 0.4
_WORD = re.compile(r"\w+")
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_PHONE_LAYOUT = re.compile(r"\+|\(\d|0\d{1,4}[ -]\d|\d{3}([-. ])\d{3}\1\d{4}$")
_LAID_OUT_PHONE_SCORE = 0.5
# A superset of what `phonenumbers`' matcher accepts: up to two leading brackets or
# plus signs, then digits with up to four of its punctuation characters between them
# (dashes, the letter x, spaces, brackets, dots, slashes, tildes, full-width forms).
_PHONE_PUNCTUATION = (
    "-x\u2010-\u2015\u2212\u30fc\uff0d-\uff0f \u00a0\u00ad\u200b\u2060\u3000"
    "()\uff08\uff09\uff3b\uff3d.\\[\\]/~\u2053\u223c\uff5e"
)
_PHONE_RUN = re.compile(
    f"(?:[(\\[\uff08\uff3b+\uff0b][{_PHONE_PUNCTUATION}]{{0,4}}){{0,2}}\\d(?:[{_PHONE_PUNCTUATION}]{{0,4}}\\d)*"
)
# Shorter numbers exist (German and local-only ones) but cannot be told from any
# other number in a prompt.
_PHONE_MIN_DIGITS = 7
# Presidio's default regions less CA: Canadian numbers share +1 and are found as US.
_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "BR")
_DIGITS = "0123456789"
# Presidio annotates `nlp_artifacts` as required, but its pattern and phone
# recognizers never read it: this is what they get without an NLP engine.
_NO_NLP = cast(NlpArtifacts, None)


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected entity: `text[start:end]`, with Presidio's confidence in [0, 1]."""

    entity: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class _Profile:
    """What the prefilters look at, computed once per text."""

    digits: int
    has_at: bool
    dots: int
    colons: int
    double_colon: bool

    @classmethod
    def of(cls, text: str) -> _Profile:
        return cls(
            digits=sum(map(text.count, _DIGITS)),
            has_at="@" in text,
            dots=text.count("."),
            colons=text.count(":"),
            double_colon="::" in text,
        )


@dataclass(frozen=True, slots=True)
class _Spec:
    """One recognizer and when it is worth running."""

    entity: str
    build: Callable[[TLDExtract], EntityRecognizer]
    # A necessary condition for any match: skipping on False never loses a finding.
    could_match: Callable[[_Profile], bool]
    # Score ceiling before context: 0.4 keeps a match under the default threshold
    # unless a context word is near.
    cap: float = 1.0
    # The highest score this recognizer can reach, context included. Text already
    # claimed by a finding scoring above it is blanked before it runs: whatever it
    # found there would lose the overlap anyway, and it skips the work.
    best: float = 1.0


class _OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer, offline, and trimmed at `key=` prefixes.

    The stock recognizer calls `tldextract.extract`, whose module-level extractor
    fetches the public suffix list over HTTP on first use; here the extractor is one
    built with no URLs and no disk cache, so it only ever reads its packaged snapshot.
    """

    def __init__(self, extractor: TLDExtract) -> None:
        super().__init__()
        self._extractor = extractor

    def validate_result(self, pattern_text: str) -> bool:
        """True when the address's domain ends in a known public suffix."""
        return self._extractor(pattern_text).fqdn != ""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        """Matches, each starting after the last `=` of its local part.

        `=` is legal in an address, but in logs (`user=jane@example.com`) it ends a key.
        """
        results: list[RecognizerResult] = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for result in results:
            local = text[result.start : text.index("@", result.start)]
            cut = local.rfind("=") + 1
            if cut < len(local):
                result.start += cut
        return results


class _IpRecognizer(IpRecognizer):
    """Presidio's IP recognizer, leaving out addresses that identify no host."""

    def invalidate_result(self, pattern_text: str) -> bool:
        """True unless `pattern_text` parses as an address of some host.

        Loopback (127.0.0.53 in resolv.conf), unspecified (0.0.0.0/0 in a firewall
        rule) and netmasks (255.255.255.0) are common in prompts and personal to no one.
        """
        try:
            address = ipaddress.ip_interface(pattern_text).ip
        except ValueError:
            return True
        return address.is_loopback or address.is_unspecified or _is_netmask(address)


class _PhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer, run on digit runs only, trusting laid-out numbers.

    Speed: `phonenumbers` scans the whole text once per region, which takes
    milliseconds on a digit-heavy log. Here it runs only on windows around runs of
    digits and phone punctuation holding at least seven digits (a superset of what its
    matcher accepts), and a run that one region's matcher reads whole as a `+` number
    is not offered to the others: a country code makes the region irrelevant.

    Scores: `phonenumbers` accepts any digit run that is a valid number somewhere, so
    Presidio scores its matches 0.4 and relies on context words. A number written with
    a country code (`+44 ...`), an area code in brackets, a trunk `0` and a separator
    (`020 7946 0018`) or as NANP 3-3-4 groups (`415-555-0132`) is scored 0.5 instead,
    which passes the default threshold without context. Dotted quads are left to
    IP_ADDRESS: `phonenumbers` happily reads 203.0.113.7 as a number. An extension
    (`ext. 12`) falls outside the windows, so spans end before it.
    """

    def __init__(self, context: list[str]) -> None:
        super().__init__(context=context, supported_regions=_PHONE_REGIONS)
        self._any_region = PhoneRecognizer(context=context, supported_regions=_PHONE_REGIONS[:1])

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts = _NO_NLP) -> list[RecognizerResult]:
        """Phone numbers in `text`, without IPv4-shaped ones."""
        kept: list[RecognizerResult] = []
        # Logs repeat the same date on every line: match each window text once.
        seen: dict[str, list[RecognizerResult]] = {}
        for run in _PHONE_RUN.finditer(text):
            if sum(map(run.group().count, _DIGITS)) < _PHONE_MIN_DIGITS or _DOTTED_QUAD.fullmatch(run.group()):
                continue
            # The matcher looks at the character before a number (a letter or currency
            # sign) and the three after (":07" makes it a time); wider would defeat the memo.
            low, high = max(0, run.start() - 1), min(len(text), run.end() + 3)
            window = text[low:high]
            if window not in seen:
                seen[window] = self._match(window, run.start() - low, run.end() - low, entities)
            for found in seen[window]:
                candidate = window[found.start : found.end]
                if _DOTTED_QUAD.fullmatch(candidate):
                    continue
                score = max(found.score, _LAID_OUT_PHONE_SCORE) if _PHONE_LAYOUT.match(candidate) else found.score
                kept.append(RecognizerResult(found.entity_type, found.start + low, found.end + low, score))
        return kept

    def _match(self, window: str, start: int, end: int, entities: list[str]) -> list[RecognizerResult]:
        if window[start] in "+\uff0b":
            found = self._any_region.analyze(window, entities, _NO_NLP)
            if len(found) == 1 and (found[0].start, found[0].end) == (start, end):
                return found
        results: list[RecognizerResult] = super().analyze(window, entities, _NO_NLP)
        return results


def _could_be_ip(profile: _Profile) -> bool:
    # IPv4 has three dots; IPv6 has "::" or, written out, seven colons (six with an
    # IPv4 tail).
    return (profile.dots >= 3 and profile.digits >= 4) or profile.double_colon or profile.colons >= 6


# Presidio's phone context words without "number" (it boosts "order number 123...",
# "NHS number ..."), plus words people put before a phone number in chat.
_PHONE_CONTEXT = [
    "phone", "telephone", "cell", "cellphone", "mobile", "call", "tel", "ph", "contact", "reach", "text",
    "whatsapp", "fax", "dial", "ring", "sms", "landline",
]  # fmt: skip

# Order matters only to break ties between equal-score, equal-length overlaps: the
# more specific recognizer comes first (an ITIN is also SSN-shaped).
_SPECS = (
    _Spec("CREDIT_CARD", lambda _: CreditCardRecognizer(), lambda p: p.digits >= 13),
    _Spec("IBAN_CODE", lambda _: IbanRecognizer(), lambda p: p.digits >= 2),
    _Spec("CRYPTO", lambda _: CryptoRecognizer(), lambda p: p.digits >= 1),
    _Spec("EMAIL_ADDRESS", _OfflineEmailRecognizer, lambda p: p.has_at and p.dots > 0),
    _Spec("US_ITIN", lambda _: UsItinRecognizer(), lambda p: p.digits >= 9),
    _Spec("US_SSN", lambda _: UsSsnRecognizer(), lambda p: p.digits >= 9),
    _Spec("UK_NHS", lambda _: NhsRecognizer(), lambda p: p.digits >= 10, cap=0.4),
    _Spec("UK_NINO", lambda _: UkNinoRecognizer(), lambda p: p.digits >= 6),
    _Spec("IP_ADDRESS", lambda _: _IpRecognizer(), _could_be_ip),
    _Spec(
        "PHONE_NUMBER",
        lambda _: _PhoneRecognizer(context=_PHONE_CONTEXT),
        lambda p: p.digits >= _PHONE_MIN_DIGITS,
        best=_LAID_OUT_PHONE_SCORE + _CONTEXT_BOOST,
    ),
)
_PATTERN_ENTITIES = tuple(spec.entity for spec in _SPECS)
_PRIORITY = {entity: rank for rank, entity in enumerate(_PATTERN_ENTITIES + NER_ENTITIES)}


def installed_spacy_model() -> str | None:
    """The name of the largest spaCy English pipeline installed, if any."""
    return next((name for name in SPACY_MODELS if spacy.util.is_package(name)), None)


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A built recognizer with its compiled context rule."""

    spec: _Spec
    recognizer: EntityRecognizer
    context: re.Pattern[str] | None


class _Ner:
    """Presidio's spaCy recognizer fed by a spaCy pipeline loaded once."""

    def __init__(self, model: str, entities: Sequence[str]) -> None:
        config = NerModelConfiguration(labels_to_ignore=list(_IGNORED_SPACY_LABELS))
        self._engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}], ner_model_configuration=config)
        self._engine.load()
        self._entities = list(entities)
        self._recognizer = SpacyRecognizer(supported_entities=self._entities)

    def analyze(self, text: str) -> list[RecognizerResult]:
        artifacts = self._engine.process_text(text, "en")
        results: list[RecognizerResult] = self._recognizer.analyze(text, self._entities, artifacts)
        return results


class PiiDetector:
    """Finds PII spans in text; build once, call `find` per request.

    `entities` restricts detection to those names (Presidio's, e.g. "EMAIL_ADDRESS");
    None means every covered entity. Findings scoring under `threshold` are dropped.
    `ner_model` names a spaCy pipeline (or its directory) for PERSON, LOCATION and NRP;
    by default the largest installed `en_core_web_*` one, if any.
    """

    def __init__(
        self,
        entities: Sequence[str] | None = None,
        *,
        threshold: float = 0.5,
        ner_model: str | Path | None = None,
    ) -> None:
        if isinstance(entities, str):
            raise TypeError("entities must be a sequence of entity names, not one string")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {threshold}")
        model = str(ner_model) if ner_model is not None else installed_spacy_model()
        available = _PATTERN_ENTITIES + (NER_ENTITIES if model is not None else ())
        wanted = tuple(dict.fromkeys(entities)) if entities is not None else available
        unknown = [name for name in wanted if name not in available]
        if unknown:
            raise ValueError(f"unknown PII entities {unknown}; this detector covers {list(available)}")
        self._threshold = threshold
        self._covered = tuple(name for name in available if name in wanted)
        extractor = TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)
        extractor("warm-up@example.com")  # parse the snapshot now, not on the first request
        self._patterns = tuple(_build(spec, extractor) for spec in _SPECS if spec.entity in self._covered)
        ner_wanted = [name for name in NER_ENTITIES if name in self._covered]
        self._ner = _Ner(model, ner_wanted) if model is not None and ner_wanted else None

    @property
    def covered(self) -> tuple[str, ...]:
        """The entity names this detector reports."""
        return self._covered

    def find(self, text: str) -> list[Finding]:
        """PII in `text`, sorted by start, without overlaps.

        Where spans overlap, the higher score wins, then the longer span, then the
        more specific entity (the order of `covered`).
        """
        if not text:
            return []
        profile = _Profile.of(text)
        candidates: list[Finding] = []
        for pattern in self._patterns:
            if not pattern.spec.could_match(profile):
                continue
            seen = _blanked(text, candidates, pattern.spec.best) if pattern.spec.best < 1.0 else text
            for result in pattern.recognizer.analyze(seen, [pattern.spec.entity], _NO_NLP):
                score = _with_context(text, result.start, min(result.score, pattern.spec.cap), pattern.context)
                if score >= self._threshold:
                    candidates.append(Finding(pattern.spec.entity, result.start, result.end, score))
        if self._ner is not None:
            for result in self._ner.analyze(text):
                if result.score >= self._threshold:
                    candidates.append(Finding(result.entity_type, result.start, result.end, result.score))
        return _without_overlaps(candidates)


def redact(text: str, findings: Sequence[Finding]) -> str:
    """`text` with each finding's span replaced by `<ENTITY>`; findings must not overlap."""
    pieces: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < position:
            raise ValueError(f"overlapping findings at {finding.start}")
        pieces += [text[position : finding.start], f"<{finding.entity}>"]
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)


def _build(spec: _Spec, extractor: TLDExtract) -> _Pattern:
    recognizer = spec.build(extractor)
    words = [word.strip() for word in recognizer.context or [] if word.strip()]
    # A few endings stand in for lemmas: "call" also matches "calls", "called", "calling".
    alternatives = "|".join(map(re.escape, words))
    context = re.compile(rf"\b(?:{alternatives})(?:s|es|ed|ing)?\b", re.IGNORECASE) if words else None
    return _Pattern(spec, recognizer, context)


def _blanked(text: str, findings: list[Finding], above: float) -> str:
    """`text` with the spans of findings scoring above `above` replaced by spaces."""
    spans = [(finding.start, finding.end) for finding in findings if finding.score > above]
    if not spans:
        return text
    characters = list(text)
    for start, end in spans:
        characters[start:end] = " " * (end - start)
    return "".join(characters)


def _is_netmask(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """255.x.x.x with its one bits contiguous from the left (255.255.255.0, 255.255.255.255)."""
    if address.version != 4 or int(address) < 0xFF000000:
        return False
    host_bits = ~int(address) & 0xFFFFFFFF
    return host_bits & (host_bits + 1) == 0


def _with_context(text: str, start: int, score: float, context: re.Pattern[str] | None) -> float:
    if context is None:
        return score
    # Five words rarely span more than 80 characters; the slice keeps this O(1).
    words = _WORD.findall(text, max(0, start - 80), start)[-_CONTEXT_WORDS_BEFORE:]
    if not words or context.search(" ".join(words)) is None:
        return score
    return min(1.0, max(score + _CONTEXT_BOOST, _CONTEXT_FLOOR))


def _without_overlaps(candidates: list[Finding]) -> list[Finding]:
    ranked = sorted(candidates, key=lambda f: (-f.score, f.start - f.end, _PRIORITY.get(f.entity, 99), f.start))
    kept: list[Finding] = []
    for finding in ranked:
        if all(finding.end <= other.start or finding.start >= other.end for other in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)
