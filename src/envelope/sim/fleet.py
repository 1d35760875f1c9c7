"""The fleet document: what `envelope simulate` serves a trace with.

A fleet names throughput *profiles* (how fast one replica of a model on its hardware
prefills and decodes, how many sequences it batches, how many tokens its KV cache
holds) and gives each Envelope tier (S, M, L) a pool of replicas of one profile, a
bounded wait queue and, optionally, prices. Like the config, it rejects unknown fields
and is frozen once loaded.

One replica's step time with `b` sequences in the batch is
`decode_base_ms + decode_per_seq_ms × b`; a step that admits new sequences first
prefills them (`overhead_ms` + their input tokens at `prefill_tokens_per_s`, less
any `cached_prefix_tokens` that every prompt shares and the prefix cache holds).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from envelope.config.base import Document
from envelope.config.documents import Prices, Tier
from envelope.config.loader import describe_errors, read_mapping


class FleetError(Exception):
    """A fleet file that cannot be used; the message names the file and field."""


class Profile(Document):
    """One replica of a model on its hardware."""

    prefill_tokens_per_s: float = Field(gt=0, description="Input tokens prefilled per second")
    decode_base_ms: float = Field(ge=0, description="Fixed time of one decode step, whatever the batch")
    decode_per_seq_ms: float = Field(default=0.0, ge=0, description="Added to a step per sequence in the batch")
    overhead_ms: float = Field(default=0.0, ge=0, description="Per request, on the replica: parsing, tokenizing")
    cached_prefix_tokens: int = Field(
        default=0, ge=0, description="Prompt tokens the prefix cache holds already (a shared system prompt)"
    )
    max_batch: int = Field(default=1, ge=1, description="Sequences decoded together (1: one request at a time)")
    kv_cache_tokens: int = Field(ge=1, description="Tokens the KV cache holds; each sequence reserves input+output")

    @model_validator(mode="after")
    def _steps_take_time(self) -> Profile:
        if self.decode_base_ms + self.decode_per_seq_ms <= 0:
            raise ValueError("a decode step must take some time: decode_base_ms or decode_per_seq_ms > 0")
        return self

    def step_ms(self, batch: int) -> float:
        """Duration of one decode step with `batch` sequences."""
        return self.decode_base_ms + self.decode_per_seq_ms * batch

    def prefill_ms(self, input_tokens: int) -> float:
        """Time to admit one request: its overhead and its prompt's prefill."""
        fresh = max(input_tokens - self.cached_prefix_tokens, 0)
        return self.overhead_ms + 1000.0 * fresh / self.prefill_tokens_per_s


class Pool(Document):
    """A tier's replicas, all of one profile, behind one wait queue."""

    profile: str = Field(description="A name from `profiles`")
    replicas: int = Field(default=1, ge=1)
    queue: int = Field(default=64, ge=0, description="Requests that may wait for a place; beyond, shed or reroute")
    max_wait_ms: float = Field(
        default=30_000.0, gt=0, description="Longest wait in the queue (the policy's wait bound may be shorter)"
    )
    prices: Prices | None = Field(default=None, description="USD per 1M tokens; default: the config model's")
    model: str | None = Field(default=None, description="Take prices from this model of the Envelope config")

    @model_validator(mode="after")
    def _one_price_source(self) -> Pool:
        if self.prices is not None and self.model is not None:
            raise ValueError("give prices or model, not both")
        return self


class Fleet(Document):
    profiles: dict[str, Profile] = Field(min_length=1)
    tiers: dict[Tier, Pool] = Field(min_length=1)

    @model_validator(mode="after")
    def _profiles_exist(self) -> Fleet:
        for tier, pool in self.tiers.items():
            if pool.profile not in self.profiles:
                known = ", ".join(sorted(self.profiles))
                raise ValueError(f"tiers.{tier}: unknown profile {pool.profile!r} (profiles: {known})")
        return self

    def profile(self, tier: Tier) -> Profile:
        return self.profiles[self.tiers[tier].profile]


def load_fleet(path: str | Path) -> Fleet:
    """Read and validate a fleet YAML file."""
    file = Path(path)
    raw = read_mapping(file, FleetError, "profiles and tiers")
    try:
        return Fleet.model_validate(raw)
    except ValidationError as exc:
        raise FleetError(describe_errors(file, exc)) from exc


def sample_fleet_path() -> Path:
    """The fleet that ships with Envelope: small, medium and large tiers."""
    from importlib import resources

    return Path(str(resources.files("envelope").joinpath("sample/fleet.yaml")))
