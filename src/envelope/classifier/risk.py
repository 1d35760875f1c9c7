"""Risk rules: patterns that raise the classifier's risk score and name why.

A rule only ever raises the score to its floor (`max(risk, floor)`), never lowers it,
and adds its name to the flags. Patterns run on the lower-cased text (so they ignore
case) unless noted, and keywords are bounded by `\\b`, so "issue" is not "sue" and
"reliability" is not "liability". What each rule covers, exactly:

- `pii` (floor 0.8):
  an e-mail address: a local-part character, `@`, one or more dotted domain labels,
  then a top-level domain of two or more letters (`jane@localhost`, `jane@` and
  `@handle` are not addresses);
  a phone number: `+`, a country code of 1–3 digits, then 2–5 groups of 2–4 digits
  each after at most one space, dot or dash, 7–15 digits in all (`+1 555 0100`,
  `+44 20 7946 0958`); or North-American `(555) 010-0199`, `555-010-0199`, `555.010.0199`;
  a payment card number: 13–19 digits, each optionally followed by one space or dash,
  passing the Luhn check;
  an IBAN: two letters, two check digits, 2–7 groups of four letters or digits and an
  optional shorter tail, optionally space-separated, 15–34 characters in all, whose
  ISO 13616 mod-97 remainder is 1;
  a US social security number written `AAA-GG-SSSS`, area not 000, 666 or 9xx, group
  not 00, serial not 0000.
- `legal` (floor 0.7): lawsuit(s), sue (lower case only, so the name "Sue" does not
  fire), sued, suing, attorney(s), lawyer(s), solicitor(s), liable, liability, breach
  of contract, subpoena, cease and desist, small claims, legal action, litigation,
  class action, GDPR / data subject (access, deletion, erasure) request, DSAR, right
  to be forgotten.
- `escalation` (floor 0.7): speak / talk / chat to or with a / an / the / your / some
  manager, supervisor, human (not "human resources"), real person or someone in
  charge; cancel or close my account, subscription, membership, plan or contract;
  chargeback; dispute the / this / that charge; formal complaint; file or lodge a
  complaint; report you to; ombudsman; Better Business Bureau, BBB; trading
  standards; consumer protection.
- `self_harm` (floor 0.95): suicide, suicidal, kill(ing) myself, end(ing) my (own)
  life, take my (own) life, self-harm / self harm / selfharm / self-injury, want(ed)
  to die, better off dead.

Speed: `re` skips ahead in C to a pattern's first character only when that is a
literal or a character class, not `\\b` or a lookbehind; so the PII patterns (and
"sue") begin with `@`, `+`, `(`, a digit or a letter and check their left boundary by
a lookbehind just after it. The keyword rules begin with `\\b`, which is slower: each
costs about 2 µs per 100 characters of prompt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Detector:
    """A pattern whose matches count only if `valid` accepts the matched text."""

    pattern: re.Pattern[str]
    valid: Callable[[str], bool] | None = None
    case_sensitive: bool = False  # match the original text rather than the lower-cased one

    def finds(self, text: str, lowered: str) -> bool:
        subject = text if self.case_sensitive else lowered
        if self.valid is None:
            return self.pattern.search(subject) is not None
        return any(self.valid(match.group()) for match in self.pattern.finditer(subject))


@dataclass(frozen=True, slots=True)
class Rule:
    """A named risk rule: if any detector fires, risk is raised to at least `floor`."""

    name: str
    detectors: tuple[Detector, ...]
    floor: float

    def fires(self, text: str, lowered: str) -> bool:
        return any(detector.finds(text, lowered) for detector in self.detectors)


def luhn(digits: str) -> bool:
    """The Luhn checksum of a string of digits (payment cards)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def iban_checks(iban: str) -> bool:
    """ISO 13616 mod-97: move the first four characters to the end, read letters as 10..35."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _card(match: str) -> bool:
    digits = re.sub(r"[ -]", "", match)
    return 13 <= len(digits) <= 19 and luhn(digits)


def _iban(match: str) -> bool:
    compact = match.replace(" ", "")
    return 15 <= len(compact) <= 34 and iban_checks(compact)


def _phone(match: str) -> bool:
    return 7 <= sum(char.isdigit() for char in match) <= 15


def _ssn(match: str) -> bool:
    area, group, serial = match.split("-")
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def _words(*alternatives: str) -> Detector:
    """One detector for lower-case keyword regexes, each bounded by \\b on both sides."""
    return Detector(re.compile(r"\b(?:" + "|".join(alternatives) + r")\b"))


PII = Rule(
    "pii",
    (
        Detector(re.compile(r"@(?<=[a-z0-9._%+-]@)(?:[a-z0-9-]+\.)+[a-z]{2,}\b")),
        Detector(re.compile(r"\+(?<![\w+]\+)\d{1,3}(?:[ .-]?\d{2,4}){2,5}\b"), _phone),
        Detector(re.compile(r"\(\d{3}\) ?\d{3}[ .-]\d{4}\b")),
        Detector(re.compile(r"\d(?<![\w-]\d)\d\d([.-])\d{3}\1\d{4}\b")),
        Detector(re.compile(r"\d(?<!\w\d)(?:[ -]?\d){12,18}\b"), _card),
        Detector(re.compile(r"\b[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?\b"), _iban),
        Detector(re.compile(r"\d(?<![\w-]\d)\d\d-\d\d-\d{4}\b"), _ssn),
    ),
    floor=0.8,
)
LEGAL = Rule(
    "legal",
    (
        _words(
            r"lawsuits?",
            r"su(?:ed|ing)",
            r"attorneys?",
            r"lawyers?",
            r"solicitors?",
            r"liab(?:le|ility|ilities)",
            r"breach(?:ed|es)? of (?:the |my |our |a )?contract",
            r"subpoena(?:s|ed)?",
            r"cease and desist",
            r"small claims",
            r"legal action",
            r"litigation",
            r"class action",
            r"(?:gdpr|data subject)(?: access| deletion| erasure)? requests?",
            r"dsars?",
            r"right to be forgotten",
        ),
        Detector(re.compile(r"sue(?<!\wsue)\b"), case_sensitive=True),
    ),
    floor=0.7,
)
ESCALATION = Rule(
    "escalation",
    (
        _words(
            r"(?:speak|talk|chat) (?:to|with) (?:a|an|the|your|some) "
            r"(?:manager|supervisor|human(?! resources)|real person|someone in charge)",
            r"(?:cancel|close) my (?:account|subscription|membership|plan|contract)",
            r"charge ?backs?",
            r"dispute (?:the|this|that) charge",
            r"formal complaint",
            r"(?:file|lodge) a complaint",
            r"report you to",
            r"ombudsman",
            r"better business bureau",
            r"bbb",
            r"trading standards",
            r"consumer protection",
        ),
    ),
    floor=0.7,
)
SELF_HARM = Rule(
    "self_harm",
    (
        _words(
            r"suicid(?:e|al)",
            r"kill(?:ing)? myself",
            r"end(?:ing)? my (?:own )?life",
            r"take my (?:own )?life",
            r"self[- ]?(?:harm(?:ing)?|injury)",
            r"want(?:ed)? to die",
            r"better off dead",
        ),
    ),
    floor=0.95,
)
RULES: tuple[Rule, ...] = (PII, LEGAL, ESCALATION, SELF_HARM)


def apply(text: str, risk: float, rules: Sequence[Rule] = RULES) -> tuple[float, frozenset[str]]:
    """Raise `risk` to the floor of every rule that fires on `text`; return it and their names."""
    lowered = text.lower()
    fired = [rule for rule in rules if rule.fires(text, lowered)]
    return max([risk, *(rule.floor for rule in fired)]), frozenset(rule.name for rule in fired)
