"""The cache key and the semantic partition: what makes two requests share an answer."""

from __future__ import annotations

from typing import Any

from envelope.core.cache_key import label, owned, partition, request_key

SCOPE = ("v1", "balanced", "None")


def body(question: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}],
        **extra,
    }


def key(raw: dict[str, Any], tenant: str = "acme", route: str = "faq") -> str:
    return request_key(raw, tenant=tenant, route=route, scope=SCOPE)


def part(raw: dict[str, Any], tenant: str = "acme", max_chars: int = 1000) -> tuple[str, str] | None:
    return partition(raw, tenant=tenant, route="faq", scope=SCOPE, max_chars=max_chars)


def test_streaming_and_whitespace_do_not_change_the_key() -> None:
    assert key(body("What is SSO?")) == key(body("  What is SSO?\n", stream=True, user="u1"))
    assert key(body("What is SSO?")).startswith("acme:faq:")


def test_tenant_route_parameters_and_text_change_the_key() -> None:
    base = key(body("What is SSO?"))
    assert key(body("What is SSO?"), tenant="beta") != base
    assert key(body("What is SSO?"), route="chat") != base
    assert key(body("What is SSO?", temperature=0.2)) != base
    assert key(body("What is SAML?")) != base


def test_paraphrases_share_a_partition_other_scopes_do_not() -> None:
    first, second = part(body("What is SSO?")), part(body("what does single sign-on mean"))
    assert first is not None and second is not None
    assert first[0] == second[0] and (first[1], second[1]) == ("What is SSO?", "what does single sign-on mean")
    assert part(body("What is SSO?", temperature=0.9))[0] != first[0]  # type: ignore[index]
    assert part(body("What is SSO?"), tenant="beta")[0] != first[0]  # type: ignore[index]
    other_system = body("What is SSO?")
    other_system["messages"][0]["content"] = "Answer in French."
    assert part(other_system)[0] != first[0]  # type: ignore[index]
    assert part(body("What is SSO?", tools=[{"type": "function", "function": {"name": "f"}}]))[0] != first[0]  # type: ignore[index]


def test_only_short_plain_user_questions_have_a_partition() -> None:
    assert part(body("x" * 1001)) is None
    assert part(body("x" * 1000)) is not None
    ends_with_assistant = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    }
    assert part(ends_with_assistant) is None
    image = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
    }
    assert part(image) is None
    parts = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "What is SSO?"}]}]}
    assert part(parts) is not None and part(parts)[1] == "What is SSO?"  # type: ignore[index]


def test_labels_escape_separators_so_ownership_is_exact() -> None:
    assert label("a:b") == "a%3Ab" and label("50%") == "50%25"
    k = request_key(body("q"), tenant="a:b", route="r", scope=SCOPE)
    assert owned(k, "a:b", None) and owned(k, None, "r") and owned(k, "a:b", "r")
    assert not owned(k, "a", None) and not owned(k, None, "b")
