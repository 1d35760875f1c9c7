"""Risk rules: each flag fires on what it names and not on near misses."""

from __future__ import annotations

import pytest

from envelope.classifier import risk

POSITIVES = {
    "pii": [
        "my email is jane.doe@example.com, please reply there",
        "Contact: J.Smith+billing@mail.example.co.uk",
        "call me on +1 555 0100",
        "my number is +44 20 7946 0958",
        "reach me at (555) 010-0199 after six",
        "office: 555-010-0199",
        "charge card 4111 1111 1111 1111 exp 12/27",
        "card number 4111-1111-1111-1111",
        "amex 378282246310005",
        "send it to GB82 WEST 1234 5698 7654 32 today",
        "IBAN DE89370400440532013000",
        "my ssn is 123-45-6789",
    ],
    "legal": [
        "I'm going to sue you",
        "we were sued by a former employee",
        "Should I hire a lawyer?",
        "my attorney will be in touch",
        "is the landlord liable for the leak",
        "they are in breach of contract",
        "I received a subpoena yesterday",
        "This is a GDPR request for all my data",
        "I am filing a data subject access request",
        "considering legal action",
    ],
    "escalation": [
        "let me speak to a manager",
        "I want to talk to a human",
        "cancel my subscription now",
        "Please close my account.",
        "I'll do a chargeback",
        "I am filing a formal complaint",
        "I will report you to the ombudsman",
        "going to the Better Business Bureau",
    ],
    "self_harm": [
        "I keep thinking about suicide",
        "sometimes i want to kill myself",
        "I'm thinking of ending my life",
        "how do I stop self-harm",
        "some days I feel I would be better off dead",
        "I just want to die",
    ],
}

NEGATIVES = {
    "pii": [
        "order 1234 5678 9012 3456 has not arrived",  # 16 digits, fails Luhn
        "write to jane.doe@ when you can",  # no domain
        "ssh into admin@localhost",  # no dotted domain
        "ping @jane.doe on slack",  # no local part
        "version 1.2.3 released on 2024-01-15",
        "the answer is 12 + 345 678",
        "IBAN GB83 WEST 1234 5698 7654 32",  # wrong check digits
        "ssn 000-12-3456",  # area 000 is never issued
        "ticket 987-65-4321",  # area 9xx is never issued
        "call 555 010 0199 maybe",  # space-separated 3-3-4 is too ambiguous
        "tracking 1Z999AA10123456784",
    ],
    "legal": [
        "there's an issue with my code",
        "I want to pursue a career in design",
        "Sue from accounting says hi",
        "improve the reliability of the system",
        "summarise this contract in plain words",
    ],
    "escalation": [
        "how do I cancel a git merge",
        "cancel the meeting tomorrow",
        "talk to the human resources department about leave",
        "the manager class in my code throws",
        "write a complaint letter template for a novel character",
    ],
    "self_harm": [
        "kill the process on port 8080",
        "this bug is killing me",
        "how do I end my lease early",
        "I hurt my back at the gym",
    ],
}


@pytest.mark.parametrize(("flag", "text"), [(f, t) for f, texts in POSITIVES.items() for t in texts])
def test_flag_fires(flag: str, text: str) -> None:
    score, flags = risk.apply(text, 0.1)
    assert flag in flags
    floor = next(rule.floor for rule in risk.RULES if rule.name == flag)
    assert score >= floor


@pytest.mark.parametrize(("flag", "text"), [(f, t) for f, texts in NEGATIVES.items() for t in texts])
def test_near_miss_does_not_fire(flag: str, text: str) -> None:
    assert flag not in risk.apply(text, 0.1)[1]


def test_rules_never_lower_the_score() -> None:
    assert risk.apply("hello there", 0.42) == (0.42, frozenset())
    assert risk.apply("I will sue you", 0.99) == (0.99, frozenset({"legal"}))


def test_the_highest_floor_wins_and_every_rule_is_named() -> None:
    score, flags = risk.apply("my lawyer says I should not kill myself, mail me at a.b@example.org", 0.0)
    assert flags == {"legal", "self_harm", "pii"}
    assert score == risk.SELF_HARM.floor


def test_checksums() -> None:
    assert risk.luhn("4111111111111111")
    assert not risk.luhn("4111111111111112")
    assert risk.iban_checks("GB82WEST12345698765432")
    assert not risk.iban_checks("GB82WEST12345698765423")
