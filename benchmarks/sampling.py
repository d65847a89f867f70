"""Wall time and peak memory of what a benchmark runs: a container (memory in use from its cgroup,
else the engine's stats; CPU time where the cgroup shows it) or a process tree on this machine (RSS),
sampled every 50 ms."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


# --- a process tree on this machine --------------------------------------------------------
def _tree_rss(pid: int) -> int:
    try:
        import psutil

        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total
    except ImportError:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
        total, todo = 0, [pid]
        while todo:
            current = todo.pop()
            total += rss.get(current, 0)
            todo.extend(children.get(current, []))
        return total


def run_sampled(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run `cmd`; its wall time, the peak RSS of its process tree, and its output."""
    peak = 0
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        proc.wait()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())
    return seconds, peak, result


# --- a container -------------------------------------------
def _cgroup_files(container_id: str) -> tuple[Path, Path, Path] | None:
    """The container's memory usage file, its memory.stat and its CPU usage file, where this machine
    shows them (cgroup v1 with the cgroupfs driver, v2 with either driver); None elsewhere."""
    root = Path("/sys/fs/cgroup")
    v1 = root / "memory" / "docker" / container_id
    if v1.exists():
        cpu = next((c for c in (root / "cpu,cpuacct", root / "cpuacct") if c.exists()), root / "cpuacct")
        return v1 / "memory.usage_in_bytes", v1 / "memory.stat", cpu / "docker" / container_id / "cpuacct.usage"
    for v2 in (root / "system.slice" / f"docker-{container_id}.scope", root / "docker" / container_id):
        if v2.exists():
            return v2 / "memory.current", v2 / "memory.stat", v2 / "cpu.stat"
    return None


def _cpu_seconds(path: Path) -> float:
    text = path.read_text()
    if path.name == "cpu.stat":  # v2: usage_usec
        return int(_stat_text(text)["usage_usec"]) / 1e6
    return int(text) / 1e9  # v1 cpuacct.usage: nanoseconds


def _memory_in_use(usage: int, stats: dict) -> int:
    """Usage less the inactive file cache, as `docker stats` counts it (cgroup v1 or v2 names)."""
    return max(0, usage - int(stats.get("total_inactive_file", stats.get("inactive_file", 0))))


def _stat_text(text: str) -> dict[str, str]:
    return dict(line.split() for line in text.splitlines() if len(line.split()) == 2)


@dataclass
class Run:
    """One container run: wall time from `docker run` to exit, peak memory in use, output."""

    seconds: float
    peak_memory: int
    out: subprocess.CompletedProcess
    oom_killed: bool = False
    cpu_seconds: float | None = None  # CPU time the container used, where the cgroup shows it

    @property
    def ok(self) -> bool:
        return self.out.returncode == 0


def run_container(
    client, image: str, command: list[str], env: dict[str, str], volumes: dict, mem_limit: int | None = None
) -> Run:
    """Run `command` in a container of `image`; sample its memory every 50 ms (cgroup files where
    readable, else the engine's stats) and, where the cgroup shows it, the CPU time it used."""
    peak, cpu = 0, None
    started = time.perf_counter()
    extra = {"mem_limit": mem_limit, "memswap_limit": mem_limit} if mem_limit else {}
    container = client.containers.run(image, command, environment=env, volumes=volumes, detach=True, **extra)
    files = _cgroup_files(container.id)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, cpu
        while not done.is_set():
            with contextlib.suppress(Exception):  # the container may end between two readings
                if files:
                    peak = max(peak, _memory_in_use(int(files[0].read_text()), _stat_text(files[1].read_text())))
                    cpu = _cpu_seconds(files[2])
                else:
                    mem = container.stats(stream=False, one_shot=True).get("memory_stats", {})
                    peak = max(peak, _memory_in_use(mem.get("usage", 0), mem.get("stats", {})))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        code = container.wait()["StatusCode"]
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        container.reload()
        oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        stdout = container.logs(stderr=False).decode(errors="replace")
        stderr = container.logs(stdout=False).decode(errors="replace")
    finally:
        container.remove(force=True)
    out = subprocess.CompletedProcess(["docker run", image, *command], code, stdout, stderr)
    return Run(seconds, peak, out, oom, cpu)
