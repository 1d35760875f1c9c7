from __future__ import annotations

from typing import get_args

import pydantic
import pytest

from envelope.config.slo import (
    AlertmanagerSinkDoc,
    AlertName,
    BurnWindowDoc,
    LogSinkDoc,
    RouteSloDoc,
    SloSettingsDoc,
    WebhookSinkDoc,
)


def test_defaults_follow_the_workbook() -> None:
    settings = SloSettingsDoc()
    pairs = [(w.long_s, w.short_s, w.factor, w.severity) for w in settings.burn.windows]
    assert pairs == [(3600, 300, 14.4, "page"), (21600, 1800, 6.0, "page"), (259200, 21600, 1.0, "ticket")]
    assert settings.bucket_s == 10 and settings.coarse_bucket_s == 300 and settings.period_s == 30 * 86400
    assert settings.fallback_rate.threshold == 0.1 and settings.retry_amplification.threshold == 1.5
    assert settings.cost_anomaly.factor == 3.0
    assert isinstance(settings.sinks[0], LogSinkDoc)
    assert RouteSloDoc().availability == 0.999 and RouteSloDoc().latency == 0.95


def test_unknown_fields_are_rejected_and_documents_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        SloSettingsDoc.model_validate({"bucket_seconds": 5})
    with pytest.raises(pydantic.ValidationError):
        RouteSloDoc.model_validate({"availabilty": 0.99})
    with pytest.raises(pydantic.ValidationError):
        SloSettingsDoc.model_validate({"sinks": [{"type": "webhook", "url": "http://x", "retries": 3}]})
    settings = SloSettingsDoc()
    with pytest.raises(pydantic.ValidationError):
        settings.bucket_s = 1  # type: ignore[misc]


def test_sinks_are_chosen_by_type() -> None:
    settings = SloSettingsDoc.model_validate(
        {
            "sinks": [
                {"type": "log"},
                {"type": "webhook", "url": "http://hooks.example/x", "headers": {"authorization": "Bearer t"}},
                {"type": "alertmanager", "url": "http://127.0.0.1:9093", "resend_interval_s": 30},
            ]
        }
    )
    assert [type(s) for s in settings.sinks] == [LogSinkDoc, WebhookSinkDoc, AlertmanagerSinkDoc]
    with pytest.raises(pydantic.ValidationError):
        SloSettingsDoc.model_validate({"sinks": [{"type": "pagerduty"}]})


def test_incoherent_settings_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        BurnWindowDoc(long_s=60, short_s=300, factor=2)
    with pytest.raises(pydantic.ValidationError):
        SloSettingsDoc(bucket_s=60, coarse_bucket_s=10)
    with pytest.raises(pydantic.ValidationError):
        SloSettingsDoc(rolling_window_s=3600, quantile_horizon_s=900)
    with pytest.raises(pydantic.ValidationError):
        RouteSloDoc(availability=1.0)
    with pytest.raises(pydantic.ValidationError):
        RouteSloDoc(silence=["NoSuchAlert"])  # type: ignore[list-item]


def test_every_field_is_described() -> None:
    from envelope.config import slo

    documents = [getattr(slo, name) for name in dir(slo) if name.endswith("Doc") and name != "SinkDoc"]
    for document in documents:
        for name, field in document.model_fields.items():
            if name == "type":
                continue
            assert field.description, f"{document.__name__}.{name} has no description"
    assert len(get_args(AlertName)) == 8
