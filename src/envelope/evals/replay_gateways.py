"""The two gateways a replay runs: one process per config (`bench/processes.py`, as
the benchmarks and end-to-end tests run them), each in a temporary directory with a
SQLite store of its own and a key for every tenant replayed.

A replay gateway shares nothing with production but its upstreams: its admission and
cache stores are in-process, it sends no traces, its SLO alerts go to its log, it
keeps no payload samples, and a local model gets a port of its own (never adopting
a server another gateway started). Relative paths (knowledge bases, GGUF files) are
anchored at the directory `envelope replay` runs in, as they would be for
`envelope serve` started there.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from envelope.bench.processes import GatewayProcess, free_port, issue_tenant_keys, start_gateway
from envelope.config.documents import ConfigSet
from envelope.evals.replay import Target


class GatewayFailed(Exception):
    """A replay gateway did not start; the message has the end of its log."""


def isolated(config: ConfigSet, *, cwd: Path, port: Callable[[], int]) -> dict[str, Any]:
    """The config document a replay gateway runs: `config`'s documents and gateway
    settings, with everything shared with production replaced (see the module doc).
    The database is left out: `start_gateway` puts one in the gateway's directory."""
    document = config.model_dump(mode="json", by_alias=True, exclude_defaults=False)
    gateway = document["gateway"]
    del gateway["database_url"]
    gateway["host"] = "127.0.0.1"
    gateway["ledger"].update(sample_payloads=0.0, spool_dir=None)
    gateway["admission"]["store_url"] = "memory://"
    gateway["cache"]["store_url"] = "memory://"
    gateway["telemetry"]["otlp_endpoint"] = None
    gateway["slo"]["sinks"] = [{"type": "log"}]
    gateway["registry"]["on_start"] = "file"
    gateway["knowledge"]["directory"] = str(cwd / gateway["knowledge"]["directory"])
    for model in document["models"]:
        for deployment in model["deployments"]:
            provider = deployment["provider"]
            if provider["type"] == "local":
                provider["port"] = port()
                if provider.get("model_path"):
                    provider["model_path"] = str(cwd / provider["model_path"])
    return document


@contextmanager
def running(
    baseline: ConfigSet, candidate: ConfigSet, tenants: list[str], *, cwd: Path
) -> Iterator[tuple[Target, Target]]:
    """Start both gateways, yield their targets, stop them (SIGINT) on the way out.

    One after the other: each start migrates a new SQLite store, and Alembic's
    migration context is process-global (two at once in threads hang)."""
    with tempfile.TemporaryDirectory(prefix="envelope-replay-") as root:
        started: list[GatewayProcess] = []
        targets: list[Target] = []
        try:
            for name, config in (("baseline", baseline), ("candidate", candidate)):
                document = isolated(config, cwd=cwd, port=free_port)
                try:
                    gateway = start_gateway(Path(root) / name, document)
                except (RuntimeError, TimeoutError, OSError) as exc:
                    raise GatewayFailed(f"the {name} gateway did not start: {exc}") from exc
                started.append(gateway)
                targets.append(Target(gateway.base_url, issue_tenant_keys(gateway, tenants)))
            yield targets[0], targets[1]
        finally:
            for gateway in started:
                gateway.stop()
