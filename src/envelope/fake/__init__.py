"""Fakes that stand in for real services in tests and benchmarks.

`envelope.fake.upstream` is a very fast OpenAI-compatible HTTP server written on raw
asyncio protocols, with fault injection selected by a path prefix
(`/fault/{kind}/v1/...`). Run it with `python -m envelope.fake.upstream --port N`.
"""
