"""The word-list toxicity filter and its measured quality on the labelled set."""

from __future__ import annotations

import pytest

from envelope.guardrails.toxicity import CATEGORIES, ToxicityFilter, ToxicityVerdict
from envelope.guardrails.toxicity_evaluation import SPLITS, evaluate, load

FILTER = ToxicityFilter()


def check(text: str) -> ToxicityVerdict:
    return FILTER.check(text)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("kill yourself", "self_harm_encouragement"),
        ("I'll kill you", "threat"),
        ("Shut up, you f@ggot.", "identity_hate"),
        ("Immigrants are vermin.", "identity_hate"),
        ("You absolute moron.", "insult"),
        ("Suck my dick.", "sexual"),
    ],
)
def test_severe_or_aimed_terms_reach_the_threshold_alone(text: str, category: str) -> None:
    verdict = check(text)
    assert verdict.toxic
    assert category in verdict.categories
    assert verdict.matches


@pytest.mark.parametrize("text", ["Damn, that's clever.", "Holy shit, it worked!", "The fucking printer jammed again."])
def test_mild_profanity_alone_is_not_toxic(text: str) -> None:
    verdict = check(text)
    assert not verdict.toxic
    assert verdict.categories == ("profanity",)
    assert 0 < verdict.score < 0.5


def test_verdict_reports_categories_in_order_and_each_match_once() -> None:
    verdict = check("You idiot. You absolute idiot, fuck off and kys.")
    assert verdict.categories == ("insult", "self_harm_encouragement")
    assert verdict.matches == ("idiot", "fuck off", "kys")
    assert verdict.score == pytest.approx(1 - (1 - 0.75) * (1 - 0.6) * (1 - 0.95), abs=1e-3)


@pytest.mark.parametrize(
    "text",
    [
        "Scunthorpe United won again.",
        "The assessment is due Friday.",
        "A cocktail and some grapes.",
        "My therapist is great.",
        "A classic mistake in Essex.",
        "Shiitake mushrooms and Dickens novels.",
        "Run kill -9 to kill the process.",
        "This bug is killing me.",
        "Shoot me an email.",
        "I'll shoot you a message later.",
        "I'll beat you to it.",
        "I would never hurt you.",
        "I won't let anyone hurt you.",
        "Will this medicine kill you?",
        "The cold will kill you if you're unprepared.",
        "She graduated magna cum laude.",
        "Spic and Span is a cleaning brand.",
        "It found a chink in the armour.",
        "You are not an idiot for asking.",
        "Did you get that stupid timeout error too?",
        "The penis, vagina and anus are covered in the anatomy chapter.",
        "The immigrants are arriving on Tuesday.",
    ],
)
def test_innocent_text_is_not_toxic(text: str) -> None:
    verdict = check(text)
    assert not verdict.toxic, verdict


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("f.u.c.k you", "fuck you"),
        ("f u c k you", "fuck you"),
        ("FUUUUUCK YOU", "fuck you"),
        ("ｆｕｃｋ you", "fuck you"),
        ("fück you", "fuck you"),
        ("f\u200buck you", "fuck you"),
        ("y0u 1d10t", "idiot"),
        ("you're a m0r0nnnn", "moron"),
        ("you @sshole", "asshole"),
        ("you're an ass hole", "asshole"),
        ("you f*cking c*nt", "cunt"),
        ("go k1ll urself", "go kill yourself"),
        ("k y s", "kys"),
        ("k.y.s", "kys"),
        ("go d!e", "go die"),
        ("ill kill u", "ill kill you"),
        ("we’re going to kill you", "we are going to kill you"),
        ("іdiot you are", "idiot"),  # Cyrillic і
    ],
)
def test_simple_evasion_is_undone(text: str, match: str) -> None:
    verdict = check(text)
    assert verdict.toxic, verdict
    assert match in verdict.matches


def test_unseen_spellings_and_fully_masked_words_are_missed() -> None:
    assert check("fvck you").matches == ()
    assert check("f*** you").matches == ()  # one letter of four shown: too many candidates


def test_insults_weigh_more_when_aimed_at_the_reader() -> None:
    assert not check("Only an idiot would deploy on a Friday.").toxic
    assert check("You are such a total idiot.").toxic
    assert check("A dumbass like you would.").toxic
    assert check("What a pathetic loser you are.").toxic


def test_quoted_terms_are_mentions() -> None:
    mention = check('Our filter flags the slur "faggot" even in jokes.')
    assert not mention.toxic
    assert mention.matches == ("faggot",)
    assert check("Our filter flags the slur faggot even in jokes.").toxic


def test_threats_need_a_first_person_speaker_and_no_negation() -> None:
    assert check("Someone should kill you.").toxic
    assert check("I'm going to find you and beat you.").toxic
    assert check("If you report me I will hurt your kids.").toxic
    assert not check("I will not hurt your family.").toxic
    assert not check("Smoking will kill you.").toxic


def test_negated_self_harm_phrases_are_a_known_blind_spot() -> None:
    # Documented limitation: phrase matching does not see negation or reported speech.
    assert check("I would never tell you to kill yourself.").toxic


def test_categories_limit_what_is_checked() -> None:
    threats_only = ToxicityFilter(categories=["threat", "self_harm_encouragement"])
    assert not threats_only.check("You absolute moron.").toxic
    assert threats_only.check("You absolute moron, kill yourself.").categories == ("self_harm_encouragement",)


def test_threshold_moves_the_decision() -> None:
    assert ToxicityFilter(threshold=0.3).check("fuck").toxic
    assert not ToxicityFilter(threshold=0.99).check("you idiot").toxic


@pytest.mark.parametrize(
    "options",
    [{"threshold": 0.0}, {"threshold": 1.5}, {"categories": ["spam"]}, {"categories": []}],
)
def test_bad_options_are_rejected(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ToxicityFilter(**options)  # type: ignore[arg-type]


def test_empty_and_long_text() -> None:
    assert check("") == ToxicityVerdict(False, 0.0, (), ())
    long = "The quarterly report is attached. " * 200 + "You moron."
    assert check(long).toxic
    assert not check("a b c d e f g " * 300).toxic


def test_every_category_is_reachable() -> None:
    texts = ["you idiot", "shit", "I will stab you", "kike", "send nudes", "kys"]
    found = {category for text in texts for category in check(text).categories}
    assert found == set(CATEGORIES)


def test_labelled_set_is_well_formed() -> None:
    examples = load()
    assert len(examples) >= 250
    assert {example.split for example in examples} == set(SPLITS)
    share = sum(example.toxic for example in examples) / len(examples)
    assert 0.35 <= share <= 0.45
    assert len({example.text for example in examples}) == len(examples)


# Measured on the held-out test split (precision 0.944, recall 0.810); the margin
# lets small deliberate trade-offs through but fails a real regression.
@pytest.mark.parametrize(("split", "precision", "recall"), [("test", 0.92, 0.78), ("dev", 0.93, 0.90)])
def test_measured_quality_does_not_regress(split: str, precision: float, recall: float) -> None:
    scores = evaluate(FILTER, load(), split)
    assert scores.precision >= precision, [example.text for example in scores.wrong]
    assert scores.recall >= recall, [example.text for example in scores.wrong]
