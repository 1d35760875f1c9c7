"""Fleet files: the sample loads; mistakes are named by file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from envelope.sim.fleet import FleetError, load_fleet, sample_fleet_path


def test_the_sample_fleet_loads() -> None:
    fleet = load_fleet(sample_fleet_path())
    assert set(fleet.tiers) == {"S", "M", "L"}
    local = fleet.profiles["smollm2-local"]
    assert local.max_batch == 1 and local.kv_cache_tokens == 2048
    assert fleet.profile("L").max_batch > fleet.profile("S").max_batch // 2


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("profiles: {p: {prefill_tokens_per_s: 1, decode_base_ms: 1, kv_cache_tokens: 9, batch: 4}}\n"
         "tiers: {S: {profile: p}}", "profiles.p.batch: unknown field"),
        ("profiles: {p: {prefill_tokens_per_s: 1, decode_base_ms: 1, kv_cache_tokens: 9}}\n"
         "tiers: {S: {profile: q}}", "unknown profile 'q' (profiles: p)"),
        ("profiles: {p: {prefill_tokens_per_s: 1, decode_base_ms: 1, kv_cache_tokens: 9}}\n"
         "tiers: {XL: {profile: p}}", "tiers.XL.[key]: Input should be 'S', 'M' or 'L'"),
        ("profiles: {p: {prefill_tokens_per_s: 0, decode_base_ms: 1, kv_cache_tokens: 9}}\n"
         "tiers: {S: {profile: p}}", "profiles.p.prefill_tokens_per_s: Input should be greater than 0"),
        ("profiles: {p: {prefill_tokens_per_s: 1, decode_base_ms: 0, kv_cache_tokens: 9}}\n"
         "tiers: {S: {profile: p}}", "a decode step must take some time"),
        ("- just a list", "the top level must be a mapping"),
        ("profiles: {a: 1\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_bad_fleets_are_explained(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    with pytest.raises(FleetError) as caught:
        load_fleet(path)
    assert str(caught.value).startswith(f"{path}")
    assert said in str(caught.value)


def test_a_missing_fleet_file(tmp_path: Path) -> None:
    with pytest.raises(FleetError, match="cannot read"):
        load_fleet(tmp_path / "none.yaml")
