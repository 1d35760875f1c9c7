"""Diffs between versions: per kind and name, to the field, and the audit summary."""

from __future__ import annotations

from envelope.registry.diff import MISSING, Change, FieldChange, diff, lines, show, summary
from envelope.registry.documents import EMPTY, Documents
from tests.registry.samples import BASE, config, with_p95


def texts(changes: list[Change]) -> list[str]:
    return [line.text for line in lines(changes)]


def test_identical_documents_have_no_diff() -> None:
    assert diff(Documents.of(config()), Documents.of(config())) == []
    assert lines([]) == [] and summary([]) == ""


def test_a_changed_field_shows_its_path_and_values() -> None:
    changes = diff(Documents.of(with_p95(800)), Documents.of(with_p95(600)))
    assert changes == [Change("routes", "default", "changed", (FieldChange("latency.p95_ms", 800.0, 600.0),))]
    assert texts(changes) == ["~ routes.default.latency.p95_ms: 800 → 600"]
    assert summary(changes) == "routes: ~default(latency.p95_ms)"
    assert [line.op for line in lines(changes)] == ["changed"]


def test_added_and_removed_documents() -> None:
    new = config(tenants=[{"name": "acme"}, {"name": "gamma"}])
    changes = diff(Documents.of(config()), Documents.of(new))
    assert texts(changes) == ["- tenants.beta", "+ tenants.gamma"]
    assert summary(changes) == "tenants: -beta +gamma"
    assert [line.op for line in lines(changes)] == ["removed", "added"]


def test_everything_is_added_against_nothing() -> None:
    out = texts(diff(EMPTY, Documents.of(config())))
    assert out == [
        "+ models.small", "+ models.big", "+ routes.default", "+ tenants.acme", "+ tenants.beta", "+ flags.dark-launch",
    ]  # fmt: skip


def test_named_lists_inside_a_document_are_compared_by_name() -> None:
    models = [dict(BASE["models"][0]), BASE["models"][1]]
    deployment = {"name": "d1", "provider": {"type": "openai", "base_url": "http://h:1/v1", "model": "x"}}
    extra = {"name": "d3", "provider": {"type": "openai", "base_url": "http://h:2/v1", "model": "x"}}
    models[0] = {**models[0], "deployments": [deployment, extra]}
    out = texts(diff(Documents.of(config()), Documents.of(config(models=models))))
    assert out[0] == '~ models.small.deployments[d1].provider.base_url: "http://127.0.0.1:9/v1" → "http://h:1/v1"'
    assert out[1].startswith('~ models.small.deployments[d3]: (none) → {"backoff_ms":50')


def test_reordering_models_is_a_change_of_order() -> None:
    swapped = config(models=list(reversed(BASE["models"])))
    changes = diff(Documents.of(config()), Documents.of(swapped))
    assert texts(changes) == ['~ models order: ["small","big"] → ["big","small"]']
    assert summary(changes) == "models: ~(order)"


def test_flag_switches_are_recorded_in_words() -> None:
    on = config(flags=[{"name": "dark-launch", "enabled": True, "activate_at": "2030-01-01T00:00:00Z"}])
    changes = diff(Documents.of(config()), Documents.of(on))
    assert summary(changes) == 'flag dark-launch turned on, activate_at null → "2030-01-01T00:00:00Z"'
    added = config(flags=[{"name": "dark-launch", "enabled": False}, {"name": "beta-ui"}])
    assert summary(diff(Documents.of(config()), Documents.of(added))) == "flag beta-ui added (on)"
    assert summary(diff(Documents.of(added), Documents.of(config()))) == "flag beta-ui removed (off)"
    off = config(flags=[{"name": "dark-launch", "enabled": True}])
    assert summary(diff(Documents.of(off), Documents.of(config()))) == "flag dark-launch turned off"


def test_summary_joins_kinds_and_caps_paths() -> None:
    route = {"name": "default", "latency": {"p50_ms": 1, "p95_ms": 2, "p99_ms": 3, "ttft_ms": 4}}
    new = config(routes=[route], tenants=[{"name": "acme"}])
    text = summary(diff(Documents.of(config()), Documents.of(new)))
    assert text == "routes: ~default(latency.p50_ms, latency.p95_ms, latency.p99_ms, +1 more); tenants: -beta"


def test_show() -> None:
    assert show(800.0) == "800" and show(0.5) == "0.5" and show("x") == '"x"' and show(None) == "null"
    assert show(MISSING) == "(none)"
    assert show("y" * 500).endswith("…") and len(show("y" * 500)) == 120
