"""The cache guard: each reason catches its flips and lets paraphrases through, both ways round."""

from __future__ import annotations

import pytest

from envelope.core.cache_guard import conflict, facts

Pair = tuple[str, str]

NEGATION_FLIPS: list[Pair] = [
    ("Can I return an opened item?", "Can I not return an opened item?"),
    ("Which plans include priority support?", "Which plans don't include priority support?"),
    ("Can I cancel an order that has shipped?", "Can I cancel an order that hasn't shipped?"),
    ("Is it safe to take ibuprofen with food?", "Is it safe to take ibuprofen without food?"),
    ("What happens if I pay my credit card bill on time?", "What happens if I don't pay my credit card bill on time?"),
    ("Which countries require a visa for Canadians?", "Which countries require no visa for Canadians?"),
    ("Which numbers between 1 and 10 are prime?", "Which numbers between 1 and 10 are not prime?"),
    ("Which foods can I eat with diabetes?", "Which foods can\u2019t I eat with diabetes?"),
    ("why does my laptop charge", "why doesnt my laptop charge"),
    ("Which breads are gluten-free?", "Which breads contain gluten?"),
    ("My tests ever pass locally", "My tests never pass locally"),
]
NEGATION_KEPT: list[Pair] = [
    ("Why won't my laptop turn on?", "Why doesn't my laptop start?"),
    ("I can't log in to my account", "I'm unable to log in to my account"),
    ("Why isn't my JavaScript event listener firing?", "My JavaScript event listener never fires, why?"),
    ("Which foods don't contain gluten?", "What foods are gluten-free?"),
    ("Can I travel to Mexico without a passport?", "Can I go to Mexico with no passport?"),
    ("Whether or not to refinance my mortgage", "Should I refinance my mortgage?"),
    ("No, I meant how do I reset my password", "I meant how do I reset my password"),
    ("Why doesn\u2019t my code compile?", "why doesnt my code compile"),
    ("Can I fly with or without a passport?", "Can I fly with a passport?"),
    ("Which laptops are not only light but also powerful?", "Which laptops are light and powerful?"),
]

POLARITY_FLIPS: list[Pair] = [
    ("How do I enable 2FA?", "How do I disable 2FA?"),
    ("flights before 3pm", "flights after 3pm"),
    ("How do I upload a file to S3?", "How do I download a file from S3?"),
    ("What is the cheapest flight to Tokyo?", "What is the most expensive flight to Tokyo?"),
    ("When should I buy Apple stock?", "When should I sell Apple stock?"),
    ("Convert 20 Celsius to Fahrenheit", "Convert 20 Fahrenheit to Celsius"),
    ("How many ounces are in a cup?", "How many cups are in an ounce?"),
    ("What increases blood pressure?", "What lowers blood pressure?"),
    ("How do I turn the wifi on?", "How do I turn the wifi off?"),
    ("How do I unfollow someone on Instagram?", "How do I follow someone on Instagram?"),
    ("Sort a list in ascending order in Python", "Sort a list in descending order in Python"),
    ("What are the advantages of index funds?", "What are the disadvantages of index funds?"),
    ("How do I log in to the portal?", "How do I log out of the portal?"),
    ("Which is the least expensive plan?", "Which is the most expensive plan?"),
    ("Flights from London to Paris", "Flights from Paris to London"),
]
POLARITY_KEPT: list[Pair] = [
    ("How do I raise my credit limit?", "How can I increase my credit limit?"),
    ("How do I turn on dark mode?", "How do I enable dark mode?"),
    ("What is the cheapest way to get to the airport?", "What is the least expensive way to get to the airport?"),
    ("How do I set up a Python virtual environment?", "How do I create a Python virtual environment?"),
    ("Pros and cons of remote work", "What are the advantages and disadvantages of working remotely?"),
    ("How do I shut down my PC?", "How do I power off my PC?"),
    ("What time does the store close?", "When does the store shut?"),
    ("How do I sign in to Gmail?", "How do I log in to Gmail?"),
    ("Is it safe to exercise before breakfast?", "Is it safe to work out prior to breakfast?"),
    ("How do I hide or show hidden files?", "How do I hide hidden files?"),
]

NUMBER_FLIPS: list[Pair] = [
    ("Convert 5 miles to km", "Convert 8 miles to km"),
    ("What's new in Python 3.8?", "What's new in Python 3.12?"),
    ("Install Python 3.10", "Install Python 3.1"),
    ("Is 37.5°C a fever?", "Is 38.5°C a fever?"),
    ("What is 15% of 80?", "What is 20% of 80?"),
    ("Can I take 2 ibuprofen every 6 hours?", "Can I take 3 ibuprofen every 6 hours?"),
    ("Flights to Rome on March 3", "Flights to Rome on March 4"),
    ("What's the tax on $50,000 of income?", "What's the tax on $60,000 of income?"),
    ("Can I get a refund within 14 days?", "Can I get a refund within thirty days?"),
    ("Can we meet at 3pm?", "Can we meet at 4 pm?"),
    ("What is 2 + 2?", "What is 2 + 2 + 2?"),
    ("What is 1 + 1?", "What is 1 + 1 + 1?"),
    ("How do I upgrade to Windows 10?", "How do I upgrade to Windows 11?"),
    ("What is twenty one squared?", "What is twenty two squared?"),
]
NUMBER_KEPT: list[Pair] = [
    ("convert 10 km to miles", "how many miles is ten kilometres"),
    ("What is 5% of 200?", "what's five percent of 200"),
    ("Can I use a $20 gift card online?", "can I use a 20 dollar gift card online"),
    ("Can we meet at 3pm?", "can we meet at 15:00"),
    ("Does the plan support 1.5 million users?", "Does the plan support 1,500,000 users?"),
    ("Set the timeout to 10.0 seconds", "set the timeout to 10 seconds"),
    ("Which one is better, Python or Ruby?", "Which is better, Python or Ruby?"),
    ("What is twenty-five times four?", "What is 25 x 4?"),
    ("Can I take two ibuprofen every six hours?", "Can I take 2 ibuprofen tablets every 6 hours?"),
    ("What happened on January 1st?", "What happened on Jan 1?"),
    ("Flights under $500", "flights below 500 dollars"),
    ("How do I train for a 5k run?", "how do i train for a 5,000 metre run"),
    ("How long do a dozen eggs keep?", "How long do 12 eggs keep?"),
    ("Is it OK to take 1 tablet?", "is it ok to take a tablet"),
]

ENTITY_FLIPS: list[Pair] = [
    ("visa for France", "visa for Spain"),
    ("What does error code ECONNREFUSED mean?", "What does error code ETIMEDOUT mean?"),
    ("How do I use os.path.join?", "How do I use os.path.split?"),
    ("How do I install Docker on Ubuntu?", "How do I install Docker on Fedora?"),
    ("What is the capital of Australia?", "What is the capital of Austria?"),
    ("How do I reset my Netflix password?", "How do I reset my Spotify password?"),
    ("Is AAPL a good investment?", "Is TSLA a good investment?"),
    ("What are the side effects of Lipitor?", "What are the side effects of Zocor?"),
    ("What does `git stash` do?", "What does `git reset` do?"),
    ("How do I use the --verbose flag?", "How do I use the --quiet flag?"),
    ("What is the weather in New York?", "What is the weather in New Delhi?"),
    ("Send the invoice to alice@example.com", "Send the invoice to bob@example.com"),
    ("Why do I get a KeyError?", "Why do I get a TypeError?"),
]
ENTITY_KEPT: list[Pair] = [
    ("Python list vs tuple", "difference between a python list and a tuple"),
    ("Python lists vs tuples?", "What is the difference between lists and tuples in Python?"),
    ("How do I deploy to Kubernetes?", "how do i deploy to kubernetes"),
    ("What is Kubernetes?", "Can you explain what k8s is?"),
    ("Who was the first president of the United States?", "Who served as the first US president?"),
    ("How do I get an iPhone 15 refund?", "how do I get a refund for my iphone15"),
    ("HOW DO I RESET MY PASSWORD", "How do I reset my password?"),
    ("How To Enable Dark Mode In Chrome", "how do I enable dark mode in chrome"),
    ("What's the time difference between New York and London?", "How many hours ahead of NYC is London?"),
    ("Is vitamin C good for colds?", "is vitamin c good for colds"),
    ("How do I use `git stash`?", "how do i use git stash"),
    ("What does Array.prototype.map do?", "What does the array map method do?"),
    ("What's the refund policy?", "what is your refund policy"),
]

FLIPS = [
    *((p, "negation") for p in NEGATION_FLIPS),
    *((p, "polarity") for p in POLARITY_FLIPS),
    *((p, "number") for p in NUMBER_FLIPS),
    *((p, "entity") for p in ENTITY_FLIPS),
]
KEPT = [*NEGATION_KEPT, *POLARITY_KEPT, *NUMBER_KEPT, *ENTITY_KEPT]


@pytest.mark.parametrize(("pair", "reason"), FLIPS)
def test_a_flip_is_caught_with_its_reason_both_ways(pair: Pair, reason: str) -> None:
    query, cached = pair
    assert conflict(query, cached) == reason
    assert conflict(cached, query) == reason


@pytest.mark.parametrize("pair", KEPT)
def test_a_paraphrase_passes_both_ways(pair: Pair) -> None:
    query, cached = pair
    assert conflict(query, cached) is None
    assert conflict(cached, query) is None


@pytest.mark.parametrize("text", [t for pair in NEGATION_FLIPS + NUMBER_FLIPS + ENTITY_FLIPS for t in pair])
def test_identical_texts_never_conflict(text: str) -> None:
    assert conflict(text, text) is None
    assert conflict(text, text + " ") is None  # the same text read twice, not only the shortcut


@pytest.mark.parametrize(
    ("query", "cached", "reason"),
    [
        ("", "", None),
        ("   ", "", None),
        ("", "what is a python list", None),
        ("", "why can't I log in", "negation"),
        ("?!", "--", None),
    ],
)
def test_empty_and_punctuation_only_texts(query: str, cached: str, reason: str | None) -> None:
    assert conflict(query, cached) == reason


@pytest.mark.parametrize(
    ("query", "cached", "reason"),
    [
        ("Can I return 2 items?", "Can't I return 3 items?", "negation"),  # negation before number
        ("How do I enable 2FA on Gmail?", "How do I disable 3FA on Outlook?", "polarity"),  # before number, entity
        ("Visa for France in 2024", "Visa for Spain in 2025", "number"),  # number before entity
    ],
)
def test_reasons_are_checked_in_order(query: str, cached: str, reason: str) -> None:
    assert conflict(query, cached) == reason


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("1,000 users", ("1000",)),
        ("set it to 10.0", ("10",)),
        ("Python 3.10 or 3.9", ("3.10", "3.9")),
        ("route via 10.0.0.1", ("10.0.0.1",)),
        ("meet at 3pm or 9:30am", ("15:00", "9:30")),
        ("twenty-five apples", ("25",)),
        ("two hundred and six", ("206",)),
        ("1.5 million or 5k", ("1500000", "5000")),
        ("v2 or version 3", ("2", "3")),
        ("the 3rd floor", ("3",)),
        ("-5 degrees", ("-5",)),
        ("$20 and 5%", ("20", "5")),
        ("a dozen, half, twice", ("0.5", "12", "2")),
        ("the fifth of November", ("5",)),
    ],
)
def test_numbers_are_read_to_one_canonical_form(text: str, numbers: tuple[str, ...]) -> None:
    assert facts(text).numbers == tuple(sorted(numbers))


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("Python lists vs tuples?", set()),  # capitalised only because it starts the sentence
        ("What are lists in Python? Tuples too?", {"python"}),
        ("Can I use it in France. Spain too?", {"france"}),
        ("I think I need a visa", set()),
        ("Why does E404 appear on my S3 bucket?", {"e404", "s3"}),
        ("Is the iPhone better?", {"iphone"}),
        ("How do I read config_path in settings.py?", {"config", "path", "settings", "py"}),
        ('What does "permission denied" mean?', {"permission", "denied"}),
        ("How To Enable Dark Mode In Chrome", set()),  # Title Case: capitals say nothing
        ("WHY IS MY ORDER LATE", set()),  # shouting: capitals say nothing
        ("Is it OK to use the API?", {"api"}),
    ],
)
def test_names_are_found_where_they_mean_something(text: str, entities: set[str]) -> None:
    assert facts(text).entities == entities


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("Why won't it start?", True),
        ("Why won\u2019t it start?", True),
        ("It doesnt start", True),
        ("Is there no way to do it?", True),  # rhetorical, still negated (a known false alarm)
        ("No, how do I start it?", False),
        ("Whether or not it starts", False),
        ("Is it not only fast but cheap?", False),
        ("How do I start it?", False),
    ],
)
def test_negation_cues(text: str, negated: bool) -> None:
    assert facts(text).negated is negated


def test_inflections_share_their_word_s_pole() -> None:
    for enabled, disabled in [("enabled", "disabling"), ("stopped", "starts"), ("denied", "allowing")]:
        assert conflict(f"Why is it {enabled}?", f"Why is it {disabled}?") == "polarity"
    assert conflict("Why is it enabled?", "Why is it enabling?") is None


def test_reading_is_memoised() -> None:
    text = "How do I enable two-factor authentication on my Google account?"
    assert facts(text) is facts(text)
