"""Benchmark the sandbox: cold and warm `make up`, cycle overhead, idle memory and CPU, image sizes,
in each warehouse mode.

    python -m benchmarks.stack [--cold] [--orders 100000] [--idle-seconds 60] [--warehouse files,lake]
                               [--scale 10000000]

Runs a separate compose project (baton-bench, ports 18180/15533) so a user's own sandbox is not
touched, once per warehouse mode (BATON_WAREHOUSE), each from nothing. Prints one table per mode and
the goals: warm `make up` to all-healthy <= 15 s; idle CPU of the stack <= 10% of one core; a
cycle's wall time <= 1.15 x the critical path: the same meltano/dbt commands run directly, in the
cycle's order and overlap (so both share the machine's CPUs alike: what is left is Airflow's); idle
memory <= 1.5 GiB; the Airflow image <= 0.7 GB; and a cycle in lake mode no longer than in files
mode (many writers: the domains build side by side, where files mode takes turns to write).

--scale N then seeds N orders and times three cycles through Airflow: a full one, a 1% one after
`make next-day` (goal: at most 25% of the full one) and one with nothing new (the cycle's fixed cost).

--cold removes the stack's images first and builds them without any layer cache (a clean engine
but for the base images: rebuilding those is `make base-images`' own figure, ~70 s).
Without it, the first `make up` is on a fresh project with the images already built.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any

from baton_contract.job import cycle_build
from baton_contract.settings import read_settings_file as read_settings

from benchmarks.harness import REPO, machine
from benchmarks.harness import setting as kit_setting
from tools.batonctl import Airflow, follow_cycle

REPOSITORIES = {"BATON_JOBS_IMAGE": "BATON_JOBS_REPOSITORY", "BATON_AIRFLOW_IMAGE": "BATON_AIRFLOW_REPOSITORY"}


def image(name: str, project: str) -> str:
    """The benchmark stack's own image tag, as the Makefile derives it for a project."""
    return f"{kit_setting(REPOSITORIES[name])}:{project}"


PROJECT = "baton-bench"
ROOT = REPO / ".baton" / "bench"
ENV = {
    **os.environ,
    "BATON_PROJECT": PROJECT,
    "BATON_ENV_FILE": str(ROOT / "stack.env"),
    "BATON_DATA_DIR": str(ROOT / "data"),
    "BATON_AIRFLOW_PORT": "18180",
    "BATON_SHOP_PORT": "15533",
}


def make(*args: str, quiet: bool = True) -> float:
    t0 = time.monotonic()
    proc = subprocess.run(["make", *args], cwd=REPO, env=ENV, capture_output=quiet, text=True)
    if proc.returncode != 0:
        sys.exit(f"`make {' '.join(args)}` failed:\n{(proc.stdout or '')[-3000:]}{(proc.stderr or '')[-3000:]}")
    return time.monotonic() - t0


def compose(*args: str) -> float:
    """`docker compose ... run` on the benchmark's stack, with the settings the Makefile exports."""
    v2 = subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    cmd = [*(["docker", "compose"] if v2 else ["docker-compose"]), "-p", PROJECT, "--env-file", ENV["BATON_ENV_FILE"]]
    env = {key: kit_setting(key) for key in read_settings(REPO / "settings.env")}
    env.update(ENV)
    env.update({key: image(key, PROJECT) for key in ("BATON_JOBS_IMAGE", "BATON_AIRFLOW_IMAGE")})
    env["BATON_ENV_PATH"] = ENV["BATON_ENV_FILE"]
    env["BATON_SOURCES_ENV_PATH"] = ENV["BATON_ENV_FILE"] + ".sources"  # written by make
    t0 = time.monotonic()
    subprocess.run([*cmd, "-f", "compose/compose.yml", *args], cwd=REPO, env=env, check=True, capture_output=True)
    return time.monotonic() - t0


def setting(key: str) -> str:
    text = (ROOT / "stack.env").read_text()
    return re.search(rf"^{key}=(.*)$", text, re.MULTILINE).group(1)


def memory_mib() -> float:
    out = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"], capture_output=True, text=True
    ).stdout
    units = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024}
    total = 0.0
    for line in out.splitlines():
        name, usage = line.split(" ", 1)
        if name.startswith(f"{PROJECT}-"):
            value, unit = re.match(r"([\d.]+)(\w+)", usage.split("/")[0].strip()).groups()
            total += float(value) * units[unit]
    return total


def cpu_percent(seconds: float) -> dict[str, float]:
    """Each container's CPU use over `seconds`, in % of one core: the engine's cumulative CPU time
    of each container (its probes included) read at the start and at the end of the window. A few
    `docker stats` readings of 1 s each would miss what a service does every 15 s or every minute."""
    import docker

    client = docker.from_env()

    def usage() -> dict[str, int]:
        return {
            c.name.removeprefix(f"{PROJECT}-").rsplit("-", 1)[0]: c.stats(stream=False, one_shot=True)["cpu_stats"][
                "cpu_usage"
            ]["total_usage"]
            for c in client.containers.list(filters={"label": f"com.docker.compose.project={PROJECT}"})
        }

    start, started = usage(), time.monotonic()
    time.sleep(seconds)
    end, elapsed = usage(), time.monotonic() - started
    return {name: (end[name] - start[name]) / 1e9 / elapsed * 100 for name in end if name in start}


def image_mb(image: str) -> float:
    out = subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", image], capture_output=True, text=True)
    return int(out.stdout.strip()) / 1e6 if out.returncode == 0 else float("nan")


GOAL_SCALE_SHARE = 0.25  # --scale: the 1% cycle against the full cycle
GOALS = {"warm_up": 15.0, "idle_cpu": 10.0, "cycle_ratio": 1.15, "idle_memory_gib": 1.5, "airflow_mb": 700.0}


def direct_cycle() -> tuple[float, dict[str, float]]:
    """The cycle's commands run directly, in the cycle's order and overlap: the two loads side by
    side; each domain's build once its sources have landed (finance after shop, marketing after
    both), side by side (in files mode they prepare side by side and take turns to write
    analytics.duckdb, as in the cycle). Its wall time is the shortest a cycle of these
    commands takes on this machine, sharing its CPUs as the cycle does; and each command's time."""
    commands = {
        "shop": ["el", "shop"],
        "marketing": ["el", "marketing"],
        "finance": cycle_build("--select", "+tag:finance"),
        "marketing_dbt": cycle_build("--select", "+tag:marketing"),
    }
    steps: dict[str, float] = {}

    def run(name: str) -> None:
        steps[name] = compose("run", "--rm", "jobs", *commands[name])

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        shop, marketing = pool.submit(run, "shop"), pool.submit(run, "marketing")
        shop.result()
        finance = pool.submit(run, "finance")
        marketing.result()
        pool.submit(run, "marketing_dbt").result()
        finance.result()
    return time.monotonic() - t0, {name: steps[name] for name in commands}


def measure(mode: str, args: argparse.Namespace) -> tuple[list[tuple[str, str, str]], dict[str, float]]:
    """One warehouse mode from nothing: its rows for the table and its figures for the goals."""
    ENV["BATON_WAREHOUSE"] = mode
    jobs_image, airflow_image = image("BATON_JOBS_IMAGE", PROJECT), image("BATON_AIRFLOW_IMAGE", PROJECT)
    rows: list[tuple[str, str, str]] = []
    figures: dict[str, float] = {}
    if (ROOT / "stack.env").exists():
        make("reset", "CONFIRM=yes")
    if args.cold:
        subprocess.run(["docker", "rmi", "-f", jobs_image, airflow_image], capture_output=True)
        subprocess.run(["docker", "builder", "prune", "-af"], capture_output=True)
    # The legacy builder keeps every intermediate layer: a cold build must also ignore them.
    first_up = make("up", *(["DOCKER_BUILD_FLAGS=--no-cache"] if args.cold else []))
    label = "cold make up (build + start + first cycle)" if args.cold else "first make up (+ first cycle)"
    rows.append((label, f"{first_up:.0f} s", ""))

    make("down")
    warm_images = make("images")  # what `make up` spends checking the images' build cache
    figures["warm_up"] = make("up")
    cache_check = f"image cache check {warm_images:.0f} s"
    rows.append(("warm make up to all-healthy", f"{figures['warm_up']:.0f} s", cache_check))

    time.sleep(args.idle_seconds)
    figures["idle_memory_gib"] = memory_mib() / 1024
    rows.append(("idle memory of the stack", f"{figures['idle_memory_gib']:.2f} GiB", ""))
    cpu = cpu_percent(args.idle_seconds)
    figures["idle_cpu"] = sum(cpu.values())
    busiest = ", ".join(f"{name} {value:.1f}%" for name, value in sorted(cpu.items(), key=lambda kv: -kv[1])[:3])
    rows.append(("idle CPU of the stack", f"{figures['idle_cpu']:.1f} %", f"of one core; {busiest}"))

    # The same volume for both: a full load of a freshly seeded shop (--orders), or one new day.
    def prepare() -> None:
        make("seed", f"ROWS={args.orders}") if args.orders else make("next-day")

    prepare()
    critical, steps = direct_cycle()
    prepare()
    airflow = Airflow(
        f"http://127.0.0.1:{ENV['BATON_AIRFLOW_PORT']}",
        kit_setting("BATON_AIRFLOW_USER"),
        setting("BATON_AIRFLOW_PASSWORD"),
    )
    figures["cycle"], result = cycle_through_airflow(airflow, mode)
    figures["cycle_ratio"] = figures["cycle"] / critical
    parts = " + ".join(f"{k} {v:.0f}s" for k, v in steps.items())
    rows.append(("critical path: the commands run directly, as overlapped", f"{critical:.0f} s", parts))
    rows.append(("cycle wall time through Airflow", f"{figures['cycle']:.0f} s", ""))
    rows.append(("cycle / critical path", f"{figures['cycle_ratio']:.2f} x", ""))
    # Where the difference goes: each DAG run's length against its job task's own run time.
    for dag_id, run in sorted(result.runs.items()):
        tis = airflow.request("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"]
        jobs = [ti for ti in tis if ti["task_id"] in ("extract_load", "build")]
        job = f"{jobs[0]['duration']:.0f} s in the job, " if jobs and jobs[0]["duration"] else ""
        rows.append((f"  {dag_id} run", f"{run['duration'] or 0:.0f} s", f"{job}{len(tis)} tasks"))
    if args.scale:
        rows.extend(scale_cycles(airflow, mode, args.scale, figures))
    figures["airflow_mb"] = image_mb(airflow_image)
    rows.append(("Airflow image", f"{figures['airflow_mb']:.0f} MB", ""))
    rows.append(("jobs image", f"{image_mb(jobs_image):.0f} MB", ""))
    make("reset", "CONFIRM=yes")
    return rows, figures


def cycle_through_airflow(airflow: Airflow, mode: str, what: str = "") -> tuple[float, Any]:
    """One cycle through Airflow (`make run`'s way): its wall time from the trigger to the end of its
    last DAG run, as Airflow recorded it (the stack shares this machine's clock), not to the moment a
    status poll noticed it; and the cycle followed."""
    triggered = time.time()
    result = follow_cycle(airflow, quiet=True)
    if not result.ok:
        runs = {d: r["state"] for d, r in result.runs.items()}
        sys.exit(f"the benchmark's {what or 'cycle'} ({mode}) failed: {runs}")
    return max(datetime.fromisoformat(r["end_date"]).timestamp() for r in result.runs.values()) - triggered, result


def scale_cycles(airflow: Airflow, mode: str, orders: int, figures: dict[str, float]) -> list[tuple[str, str, str]]:
    """--scale N: the scale goal of a cycle at N orders. `make seed ROWS=N`, a full cycle on all of it,
    `make next-day` (1% new orders and status changes, one more ad spend file), the 1% cycle, then a
    cycle with nothing new (its fixed cost: every DAG, container, Meltano and dbt start, no data)."""
    seed = make("seed", f"ROWS={orders}")
    full, _ = cycle_through_airflow(airflow, mode, "full cycle")
    make("next-day")
    incremental, _ = cycle_through_airflow(airflow, mode, "1% cycle")
    nothing, _ = cycle_through_airflow(airflow, mode, "cycle with nothing new")
    figures["scale_share"] = incremental / full
    figures["scale_orders"] = orders
    return [
        (f"make seed ROWS={orders}", f"{seed:.0f} s", ""),
        (f"full cycle at {orders:,} orders", f"{full:.0f} s", "through Airflow, as make run"),
        ("1% cycle after make next-day", f"{incremental:.0f} s", f"{incremental / full:.0%} of the full cycle"),
        ("cycle with nothing new", f"{nothing:.0f} s", f"{nothing / full:.0%} of the full cycle: its fixed cost"),
    ]


def goals(results: dict[str, dict[str, float]]) -> list[str]:
    """Each goal against each mode's figure; the lake's cycle against the files' one."""
    names = {
        "warm_up": ("warm make up", "s", "<="),
        "idle_cpu": ("idle CPU of the stack", "% of one core", "<="),
        "cycle_ratio": ("cycle / critical path", "x", "<="),
        "idle_memory_gib": ("idle memory", "GiB", "<="),
        "airflow_mb": ("Airflow image", "MB", "<="),
    }
    lines = []
    for mode, figures in results.items():
        for key, (name, unit, _) in names.items():
            value, goal = figures[key], GOALS[key]
            lines.append(f"  {mode}: {name} {value:.2f} {unit} <= {goal:g}: {'met' if value <= goal else 'NOT met'}")
        if "scale_share" in figures:
            share, verdict = figures["scale_share"], "met" if figures["scale_share"] <= GOAL_SCALE_SHARE else "NOT met"
            lines.append(
                f"  {mode}: 1% cycle / full cycle at {figures['scale_orders']:,.0f} orders {share:.0%} "
                f"<= {GOAL_SCALE_SHARE:.0%}: {verdict}"
            )
    if {"files", "lake"} <= results.keys():
        lake, files = results["lake"]["cycle"], results["files"]["cycle"]
        verdict = "met" if lake <= files else "NOT met"
        lines.append(f"  cycle in lake mode {lake:.1f} s <= in files mode {files:.1f} s: {verdict}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="remove the stack's images and the build cache first")
    parser.add_argument("--orders", type=int, help="compare full loads of a shop seeded with this many orders")
    parser.add_argument(
        "--idle-seconds", type=int, default=60, help="settle time before idle memory, then the idle CPU window"
    )
    parser.add_argument("--warehouse", default="files,lake", help="warehouse modes: files, lake or both")
    parser.add_argument(
        "--scale",
        type=int,
        help="also seed this many orders and time a full, a 1%% and an empty cycle (goal: 1%% <= 25%%)",
    )
    args = parser.parse_args()
    modes = [m for m in args.warehouse.replace(" ", "").split(",") if m]
    if not modes or set(modes) - {"files", "lake"}:
        raise SystemExit(f"--warehouse {args.warehouse!r}: choose from files, lake")
    started_on = machine()
    tables, results = {}, {}
    for mode in modes:
        tables[mode], results[mode] = measure(mode, args)

    print(f"\nbaton stack benchmark, {date.today()}, {started_on}")
    for mode, rows in tables.items():
        print(f"\nwarehouse: {mode}")
        width = max(len(r[0]) for r in rows)
        for name, value, note in rows:
            print(f"  {name:<{width}}  {value:>10}  {note}")
    print("\nGoals:")
    print("\n".join(goals(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
