from __future__ import annotations

from collections import Counter

from envelope.core.balance import Candidate, order, prefix_key

A, B, C = "a", "b", "c"


def test_ordered_keeps_the_declared_order() -> None:
    assert order("ordered", [Candidate(A, in_flight=9), Candidate(B)]) == [0, 1]


def test_least_inflight_respects_weight() -> None:
    cs = [Candidate(A, weight=1, in_flight=3), Candidate(B, weight=4, in_flight=6), Candidate(C, in_flight=2)]
    assert order("least_inflight", cs) == [1, 2, 0]  # 6/4 < 2/1 < 3/1


def test_ewma_measures_unknowns_first_then_prefers_fast_and_idle() -> None:
    cs = [Candidate(A, ewma_ms=100), Candidate(B, ewma_ms=20, in_flight=9), Candidate(C)]
    assert order("ewma", cs) == [2, 0, 1]  # unmeasured; 100 × 1 = 100; 20 × 10 = 200


def test_weighted_first_pick_follows_weights() -> None:
    cs = [Candidate(A, weight=1), Candidate(B, weight=3)]
    firsts = Counter(order("weighted", cs, draw=i / 1000)[0] for i in range(1000))
    assert firsts == {0: 250, 1: 750}
    assert order("weighted", cs, draw=0.1) == [0, 1] and order("weighted", cs, draw=0.9) == [1, 0]


def test_prefix_affinity_is_sticky_spread_and_bounded() -> None:
    cs = [Candidate(A), Candidate(B), Candidate(C)]
    primaries = {p: order("prefix_affinity", cs, prefix=prefix_key(f"system prompt {p}"))[0] for p in range(300)}
    assert primaries == {
        p: order("prefix_affinity", cs, prefix=prefix_key(f"system prompt {p}"))[0] for p in range(300)
    }
    assert min(Counter(primaries.values()).values()) > 60  # spread over all three
    key = prefix_key("shared prefix")
    home = order("prefix_affinity", cs, prefix=key)[0]
    busy = [Candidate(c.name, in_flight=10 if i == home else 0) for i, c in enumerate(cs)]
    assert order("prefix_affinity", busy, prefix=key, max_imbalance=4)[0] != home  # spills over
    assert order("prefix_affinity", busy, prefix=key, max_imbalance=20)[0] == home
    # removing another deployment does not move this prefix (rendezvous hashing)
    others = [c for i, c in enumerate(cs) if i != (home + 1) % 3]
    assert others[order("prefix_affinity", others, prefix=key)[0]].name == cs[home].name
