"""The canonical form: stable under reordering where order means nothing, round-trips."""

from __future__ import annotations

import json

import pytest

from envelope.config.documents import GatewayDoc
from envelope.registry.documents import Documents, InvalidDocuments
from tests.registry.samples import BASE, config, raw, with_p95


def test_round_trip_through_stored_text() -> None:
    cfg = config()
    docs = Documents.of(cfg)
    again = Documents.parse(docs.text).config(GatewayDoc())
    assert again == cfg.model_copy(update={"gateway": GatewayDoc()})
    assert Documents.of(again).text == docs.text


def test_documents_are_dumped_in_full_and_the_gateway_is_not_versioned() -> None:
    stored = json.loads(Documents.of(config()).text)
    assert set(stored) == {"models", "routes", "tenants", "policies", "flags"}
    assert stored["routes"][0]["max_output_tokens"] == 1024  # defaults included
    assert stored["routes"][0]["guards"]["schema"] is None  # by alias
    other_gateway = config().model_copy(update={"gateway": GatewayDoc(port=9999)})
    assert Documents.of(other_gateway).digest == Documents.of(config()).digest


def test_digest_ignores_the_order_of_named_documents_but_not_of_models() -> None:
    base = Documents.of(config())
    tenants_swapped = Documents.of(config(tenants=list(reversed(BASE["tenants"]))))
    assert tenants_swapped.digest == base.digest
    models_swapped = Documents.of(config(models=list(reversed(BASE["models"]))))
    assert models_swapped.digest != base.digest  # a route without a model list tries them in order
    assert Documents.of(with_p95(600)).digest != base.digest
    assert len(base.digest) == 64


def test_invalid_stored_documents_name_every_problem() -> None:
    doc = raw(routes=[{"name": "default", "latency": {"p95_ms": -1}}], tenants=[{"name": "acme", "colour": "red"}])
    text = json.dumps({k: v for k, v in doc.items()})
    with pytest.raises(InvalidDocuments) as caught:
        Documents.parse(text).config(GatewayDoc())
    problems = caught.value.problems
    assert any(p.startswith("routes[0].latency.p95_ms:") for p in problems), problems
    assert "tenants[0].colour: unknown field" in problems


def test_a_volatility_unknown_to_the_gateway_fails_validation() -> None:
    cfg = config(routes=[{"name": "default", "cache": {"volatility": "static"}}])
    docs = Documents.of(cfg)
    narrow = GatewayDoc.model_validate({"cache": {"ttl_s": {"standard": 60}}})
    with pytest.raises(InvalidDocuments) as caught:
        docs.config(narrow)
    assert "volatility" in str(caught.value)


@pytest.mark.parametrize("text", ["not json", "[]", '{"widgets": []}', '{"routes": [{"no_name": 1}]}'])
def test_malformed_stored_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidDocuments):
        Documents.parse(text)


def test_a_kind_missing_from_old_stored_text_is_empty() -> None:
    stored = json.loads(Documents.of(config()).text)
    del stored["flags"]
    assert Documents.parse(json.dumps(stored)).config(GatewayDoc()).flags == []
