"""`envelope cache purge`: drop cached answers through a running gateway's admin API
(the cache may live in that process's memory, so the gateway itself must do it)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Annotated

import typer

from envelope.cli.common import ConfigOption, console, err_console, load_config

app = typer.Typer(help="The answer cache.", no_args_is_help=True)


@app.command()
def purge(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's answers (default: all).")] = None,
    url: Annotated[
        str | None, typer.Option(help="The gateway, e.g. http://127.0.0.1:8080 (default: from config).")
    ] = None,
    admin_key: Annotated[str, typer.Option(envvar="ENVELOPE_ADMIN_KEY", help="An admin key.")] = "",
    config: ConfigOption = None,
) -> None:
    """Drop every cached answer, or one tenant's."""
    if url is None:
        gw = load_config(config).gateway
        url = f"http://{gw.host}:{gw.port}"
    request = urllib.request.Request(
        f"{url.rstrip('/')}/admin/cache/purge",
        data=json.dumps({"tenant": tenant}).encode(),
        headers={"authorization": f"Bearer {admin_key}", "content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            purged = json.loads(answer.read())["purged"]
    except urllib.error.HTTPError as exc:
        err_console.print(f"[red]{exc.code}[/red]: {exc.read().decode(errors='replace')}")
        raise typer.Exit(1) from exc
    except urllib.error.URLError as exc:
        err_console.print(f"[red]cannot reach {url}[/red]: {exc.reason}")
        raise typer.Exit(1) from exc
    console.print(f"purged {purged} cached answers" + (f" of tenant {tenant}" if tenant else ""))
