"""Build the admission store a config names (the only dispatch on its URL)."""

from __future__ import annotations

from envelope.admission.guarded import GuardedAdmission
from envelope.admission.memory import MemoryAdmission
from envelope.admission.ports import AdmissionStore
from envelope.config.documents import AdmissionDoc


def build(doc: AdmissionDoc) -> AdmissionStore:
    if doc.store_url == "memory://":
        return MemoryAdmission()
    if doc.store_url.startswith("redis://"):
        from envelope.admission.redis import RedisAdmission

        shared = RedisAdmission(doc.store_url, timeout_s=doc.timeout_s, prefix=doc.key_prefix)
        return GuardedAdmission(shared, fail_open=doc.on_store_failure == "fail_open", local_share=doc.local_share)
    raise ValueError(f"admission.store_url must be memory:// or redis://…, got {doc.store_url!r}")  # config forbids
