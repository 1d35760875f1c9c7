"""CPU time spent by a process tree, read from Linux's /proc.

A process's figure is its user + system time plus that of its children it has
already waited for (`cutime`/`cstime`), so a worker that exits and is reaped during
a measurement is still counted. Processes that exit while the tree is being read are
skipped. Resolution is one clock tick (usually 10 ms): measure over enough requests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

_TICKS_PER_SECOND: Final = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[bytes]:
    """The /proc/PID/stat fields after the command name (field 3, `state`, is index 0)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return data[data.rindex(b")") + 2 :].split()


def _own_ticks(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])  # utime stime cutime cstime


def _children_by_proc_file(pid: int) -> list[int] | None:
    """Children from /proc/PID/task/*/children, or None where the kernel lacks that file."""
    children: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as f:
                children.extend(int(child) for child in f.read().split())
        except FileNotFoundError:
            if os.path.exists(f"/proc/{pid}/task/{task}"):
                return None  # the task exists, so the kernel has no `children` file
        except OSError:
            continue
    return children


def _parent_map() -> dict[int, list[int]]:
    """Every process's children, from a scan of /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry))[1])
        except (OSError, ValueError, IndexError):
            continue  # exited mid-scan
        children.setdefault(parent, []).append(int(entry))
    return children


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its live descendants."""
    found = [pid]
    by_parent: dict[int, list[int]] | None = None
    index = 0
    while index < len(found):
        current = found[index]
        index += 1
        children = None if by_parent is not None else _children_by_proc_file(current)
        if children is None:
            by_parent = by_parent if by_parent is not None else _parent_map()
            children = by_parent.get(current, [])
        found.extend(child for child in children if child not in found)
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and all its descendants.

    Raises ProcessLookupError when `pid` itself does not exist; descendants that exit
    during the read are skipped.
    """
    try:
        ticks = _own_ticks(pid)
    except OSError as exc:
        raise ProcessLookupError(f"no process {pid}") from exc
    for child in tree_pids(pid)[1:]:
        try:
            ticks += _own_ticks(child)
        except (OSError, ValueError, IndexError):
            continue
    return ticks / _TICKS_PER_SECOND


@dataclass(slots=True)
class CpuSpan:
    """CPU seconds a process tree spent inside a `measure_tree_cpu` block (set on exit)."""

    pid: int
    seconds: float = 0.0


@contextmanager
def measure_tree_cpu(pid: int) -> Iterator[CpuSpan]:
    """Measure the CPU that `pid` and its descendants spend during the block.

    with measure_tree_cpu(server.pid) as cpu:
        await run_load(...)
    print(cpu.seconds)
    """
    span = CpuSpan(pid)
    before = tree_cpu_seconds(pid)
    try:
        yield span
    finally:
        span.seconds = tree_cpu_seconds(pid) - before
