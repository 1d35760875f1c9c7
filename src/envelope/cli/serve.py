"""`envelope serve`: the gateway on granian (Starlette ASGI, uvloop)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from envelope import keys
from envelope.cli.common import ConfigOption, config_path, err_console, load_config, open_store
from envelope.config import loader
from envelope.config.documents import ConfigSet


def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default: gateway.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: gateway.port).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: gateway.workers).")] = None,
    first_key: Annotated[
        bool, typer.Option(help="With no keys in the store yet, create an admin key for the first tenant and print it.")
    ] = True,
) -> None:
    """Run the gateway. With no config, the sample config: the local model behind one route."""
    # One BLAS thread a worker: multi-threaded BLAS on small embedding batches only
    # contends with the event loop (measured: 8 ms single sentences become 50-150 ms).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    path = config_path(config)
    cfg = load_config(path)
    if first_key:
        asyncio.run(_first_key(cfg))
    os.environ[loader.ENV_CONFIG] = str(Path(path).resolve())
    from granian import Granian
    from granian.constants import Interfaces

    gw = cfg.gateway
    bind_host, bind_port = host or gw.host, port or gw.port
    err_console.print(f"Envelope listening on http://{bind_host}:{bind_port}/v1 (config {path})")
    Granian(
        "envelope.http.app:create_app",
        factory=True,
        address=bind_host,
        port=bind_port,
        interface=Interfaces.ASGI,
        workers=workers or gw.workers,
        log_access=False,
    ).serve()


async def _first_key(cfg: ConfigSet) -> None:
    async with open_store(cfg) as store:
        if await store.list_keys() or not cfg.tenants:
            return
        record, secret = await keys.issue(store, cfg, tenant=cfg.tenants[0].name, role="admin", name="first key")
    err_console.print(
        f"No keys yet: created admin key {record.id} for tenant {record.tenant!r}. It is shown once:\n\n    {secret}\n"
    )
