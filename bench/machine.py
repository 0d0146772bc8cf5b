"""The machine the benchmark runs on: what it is, how fast it gives out memory, how busy it is,
and a process's own peak memory."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.settings import REPO


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would include the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prefault(megabytes: int) -> None:
    """Touch and free ``megabytes`` of memory, then reset the peak-RSS mark (--prefault-mb).

    On a VM whose host reclaims free guest memory, a fresh process pays a host fault for
    every page it touches (see ``memory_probe``); memory freed a moment ago is warm again.
    This measures the code as it runs on a machine without that cost.
    """
    import numpy as np

    block = np.ones(megabytes << 20, dtype=np.uint8)
    del block
    with contextlib.suppress(OSError):  # not Linux: the peak then includes the prefault
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS


def wait_idle(max_seconds: float, waits: list[dict]) -> None:
    """With ``--wait-idle``: before a timed run, wait (up to ``max_seconds``) until the
    machine's CPUs are idle, so that another user's work does not land in the figures.

    A wait longer than 1.5 s is appended to ``waits`` (the JSON's ``idle_waits``).
    """
    if max_seconds <= 0:
        return
    import psutil

    start = time.perf_counter()
    busy = psutil.cpu_percent(interval=1.0)
    while busy > 15 and time.perf_counter() - start < max_seconds:
        busy = psutil.cpu_percent(interval=2.0)
    waited = time.perf_counter() - start
    if waited > 1.5:
        waits.append({"seconds": round(waited, 1), "cpu_percent_after": busy})


def memory_probe(workdir: Path, *, megabytes: int = 512) -> dict:
    """How fast this machine gives a process fresh memory and page cache, in MB/s.

    Both bound every step that writes large outputs (a shard of 4096-gene sentences is ~18 KB
    a cell). On a laptop or a cluster node both are several GB/s; on a VM whose host reclaims
    the guest's free memory, touching it again can cost 10 to 20 times more. Each probe runs
    in a fresh process, the page-cache one first (memory freed by one probe is warm for the
    next for a few seconds).
    """
    path = workdir / ".memory-probe"
    probes = {
        "page_cache_write_mb_s": (
            "import time; block = bytes(1 << 20); t = time.perf_counter()\n"
            f"with open({str(path)!r}, 'wb') as out:\n"
            f"    for _ in range({megabytes}): out.write(block)\n"
            "print(time.perf_counter() - t)"
        ),
        "fresh_memory_mb_s": (
            "import time, numpy as np; t = time.perf_counter(); "
            f"a = np.ones({megabytes} << 20, dtype=np.uint8); print(time.perf_counter() - t)"
        ),
    }
    result = {}
    for name, code in probes.items():
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        seconds = float(run.stdout) if run.returncode == 0 else None
        result[name] = round(megabytes / seconds) if seconds else None
    path.unlink(missing_ok=True)
    return result


def machine_info() -> dict:
    """Python, platform, CPUs, load, memory, package versions and the git commit."""
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line
        )
        meminfo = Path("/proc/meminfo").read_text().splitlines()[0]
        info["memory_gb"] = round(int(meminfo.split()[1]) / 2**20, 1)
    except (OSError, StopIteration):
        pass
    from importlib.metadata import version

    info["packages"] = {
        name: version(name)
        for name in ("snakemake", "anndata", "zarr", "numpy", "pyarrow", "pandas", "datasets")
    }
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True, text=True
        ).stdout.strip()
        info["git"] = {"commit": commit, "dirty": bool(dirty)}
    except OSError:
        pass
    return info
