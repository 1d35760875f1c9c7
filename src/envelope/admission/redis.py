"""Admission state in Redis, shared by every replica.

Each call is one Lua script, sent over the lean pipelined client in `resp.py`, so a
request's whole ask (buckets, slots, budget) is checked and taken atomically,
whatever other replicas do at the same moment. Time is Redis's own (`TIME`), so
replicas with skewed clocks still agree. The semantics are those of `memory.py`; the
contract tests run over both.

Keys (all expire on their own): `env:rpm:…`/`env:tpm:…` hashes {t, at}; `env:conc:…` and
`env:cap:…` sorted sets of request ids scored by lease expiry; `env:budget:…` hashes
{spent, reserved} with `:holds` (sorted set) and `:amounts` (hash) per reservation.
"""

from __future__ import annotations

from typing import Any

from envelope.admission.resp import RespClient
from envelope.core.admission import Ask, Decision, Settlement

PREFIX = "env:"

_CLOCK = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

_REFILL = """
local function level(key, cap, rate, now)
  local state = redis.call('HMGET', key, 't', 'at')
  local t = tonumber(state[1])
  local at = tonumber(state[2])
  if t == nil then return cap end
  return math.min(cap, t + math.max(now - at, 0) * rate)
end
local function take(key, t, cost, cap, rate, now)
  redis.call('HSET', key, 't', tostring(t - cost), 'at', tostring(now))
  redis.call('EXPIRE', key, math.ceil(cap / rate) + 60)
end
"""

# KEYS: buckets…, slots…, [budget, holds, amounts]
# ARGV: request id, #buckets, #slots, has budget, then (cap, rate, cost)…, (limit, lease)…,
#       [amount, hard (-1: none), soft (-1: none), lease, period end]
# → {1, 0, spent, soft} or {0, index of the denying key, retry after, never}
ADMIT = (
    _CLOCK
    + _REFILL
    + """
local rid = ARGV[1]
local nb, ns, hb = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local a = 5
local levels, costs, caps, rates = {}, {}, {}, {}
for i = 1, nb do
  local cap, rate, cost = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  if cost > cap then return {0, i, '0', 1} end
  local t = level(KEYS[i], cap, rate, now)
  if t < cost then return {0, i, tostring((cost - t) / rate), 0} end
  levels[i], costs[i], caps[i], rates[i] = t, cost, cap, rate
end
local leases = {}
for j = 1, ns do
  local key = KEYS[nb + j]
  local limit, lease = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= limit then
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return {0, nb + j, tostring(math.max(tonumber(first[2]) - now, 0)), 0}
  end
  leases[j] = lease
end
local spent, soft = 0, 0
if hb == 1 then
  local bkey, holds, amounts = KEYS[nb + ns + 1], KEYS[nb + ns + 2], KEYS[nb + ns + 3]
  local amount, hard, softl = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local lease, pend = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local expired = redis.call('ZRANGEBYSCORE', holds, '-inf', now)
  for _, id in ipairs(expired) do
    redis.call('HINCRBYFLOAT', bkey, 'reserved', -tonumber(redis.call('HGET', amounts, id) or '0'))
    redis.call('HDEL', amounts, id)
  end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', holds, '-inf', now) end
  local state = redis.call('HMGET', bkey, 'spent', 'reserved')
  spent = tonumber(state[1] or '0')
  local total = spent + tonumber(state[2] or '0') + amount
  if hard >= 0 and total > hard + 1e-9 then
    local never = 0
    if amount > hard then never = 1 end
    return {0, nb + ns + 1, tostring(math.max(pend - now, 0)), never}
  end
  if softl >= 0 and total > softl + 1e-9 then soft = 1 end
  redis.call('HINCRBYFLOAT', bkey, 'reserved', amount)
  redis.call('ZADD', holds, now + lease, rid)
  redis.call('HSET', amounts, rid, tostring(amount))
  local ttl = math.ceil(pend - now) + 86400
  redis.call('EXPIRE', bkey, ttl)
  redis.call('EXPIRE', holds, ttl)
  redis.call('EXPIRE', amounts, ttl)
end
for i = 1, nb do take(KEYS[i], levels[i], costs[i], caps[i], rates[i], now) end
for j = 1, ns do
  redis.call('ZADD', KEYS[nb + j], now + leases[j], rid)
  redis.call('EXPIRE', KEYS[nb + j], math.ceil(leases[j]) + 60)
end
return {1, 0, tostring(spent), soft}
"""
)

# KEYS: slots…, [budget, holds, amounts], token buckets…
# ARGV: request id, #slots, has budget, #buckets, actual cost, then (cap, rate, cost)…
SETTLE = (
    _CLOCK
    + _REFILL
    + """
local rid = ARGV[1]
local ns, hb, nb = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local actual = tonumber(ARGV[5])
for j = 1, ns do redis.call('ZREM', KEYS[j], rid) end
local k = ns
if hb == 1 then
  local bkey, holds, amounts = KEYS[ns + 1], KEYS[ns + 2], KEYS[ns + 3]
  local held = redis.call('HGET', amounts, rid)
  if held then
    redis.call('HINCRBYFLOAT', bkey, 'reserved', -tonumber(held))
    redis.call('HDEL', amounts, rid)
    redis.call('ZREM', holds, rid)
  end
  redis.call('HINCRBYFLOAT', bkey, 'spent', actual)
  k = ns + 3
end
local a = 6
for i = 1, nb do
  local cap, rate, cost = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  take(KEYS[k + i], level(KEYS[k + i], cap, rate, now), cost, cap, rate, now)
end
return 1
"""
)


class RedisAdmission:
    def __init__(self, url: str, *, timeout_s: float, prefix: str = PREFIX) -> None:
        self._prefix = prefix
        self._client = RespClient(url, timeout_s=timeout_s, scripts={"admit": ADMIT, "settle": SETTLE})

    async def admit(self, ask: Ask, now: float) -> Decision:
        p = self._prefix
        keys = [p + b.key for b in ask.buckets] + [p + s.key for s in ask.slots]
        args: list[Any] = [ask.request_id, len(ask.buckets), len(ask.slots), 1 if ask.reservation else 0]
        for b in ask.buckets:
            args += [b.capacity, b.per_second, ask.cost(b)]
        for s in ask.slots:
            args += [s.limit, ask.lease_s]
        r = ask.reservation
        if r is not None:
            keys += self._budget_keys(r.key)
            args += [ask.amount_usd, _or_none(r.hard_usd), _or_none(r.soft_usd), ask.lease_s, r.period_end]
        ok, index, number, flag = await self._client.script("admit", keys, args)
        if ok == 1:
            return Decision(True, soft_exceeded=flag == 1, spent_usd=float(number))
        index -= 1
        names = [b.name for b in ask.buckets] + [s.name for s in ask.slots] + ([r.name] if r else [])
        gates = [False] * len(ask.buckets) + [s.gate for s in ask.slots] + [False]
        return Decision(False, names[index], float(number), never=flag == 1, gate=gates[index])

    async def settle(self, settlement: Settlement, now: float) -> None:
        p = self._prefix
        keys = [p + k for k in settlement.slot_keys]
        has_budget = settlement.reservation_key is not None
        if settlement.reservation_key is not None:
            keys += self._budget_keys(settlement.reservation_key)
        keys += [p + b.key for b in settlement.token_buckets]
        args: list[Any] = [
            settlement.request_id,
            len(settlement.slot_keys),
            1 if has_budget else 0,
            len(settlement.token_buckets),
            settlement.actual_usd,
        ]
        for b in settlement.token_buckets:
            args += [b.capacity, b.per_second, settlement.tokens]
        await self._client.script("settle", keys, args)

    async def spent(self, reservation_key: str, now: float) -> tuple[float, float]:
        spent, reserved = await self._client.call("HMGET", self._prefix + reservation_key, "spent", "reserved")
        return float(spent or 0.0), float(reserved or 0.0)

    async def close(self) -> None:
        await self._client.close()

    def _budget_keys(self, key: str) -> list[str]:
        p = self._prefix
        return [p + key, f"{p}{key}:holds", f"{p}{key}:amounts"]


def _or_none(value: float | None) -> float:
    return -1.0 if value is None else value
