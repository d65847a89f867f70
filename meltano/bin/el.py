"""The ingestion job of one source: extract-load, then reconcile source and raw, in one process.

    python bin/el.py SOURCE          (in the jobs image: baton-job el SOURCE)

0. The source's lock (meltano/bin/system_db.py): a Postgres advisory lock on Meltano's system
   database, held on the job's own connection until the job ends or dies. A live run of the same
   source is waited for (BATON_EL_LOCK_WAIT_SECONDS, default 600), naming it; Meltano's record of a
   dead run of the pipeline is then marked failed at once, so Meltano runs.
1. `meltano run tap-<source> target-raw-<source>`, its output passed through. A transient fault
   (a database restarting, a DuckDB file locked by another process) is retried in the job, with
   backoff, within about 20 s (RETRY_DELAYS); the load is state-based and upserts by key, so a retry
   is safe.
2. Reconciliation of every stream the loader keeps in raw_<source>.duckdb (its `_baton.streams`
   catalogue), against the source the source file declares (`baton.kind`):
     postgres  row and key counts in the source database against the raw table. Rows changed in the
               source after the load are counted where the raw table has them (see reconcile_postgres)
     files     the rows and distinct keys of the files the extractor reads against the raw table
   Streams without key properties compare row counts (with a replication key: the source rows up
   to the newest key value in raw); a mismatch says which side has more rows and what to do.
3. The last output line is `BATON_RESULT: {json}` (source, rows, reconciled, schema_changes, ok):
   the ingestion task puts it into the raw_<source> event's extra. schema_changes lists the
   columns the loader found dropped from, widened in or added to a stream's schema.

On SIGTERM (docker stop, an ECS StopTask, a Spot interruption's notice) the job passes it on to
Meltano, which stops the extractor and the loader; the loader commits the batch it holds and stops
(every STATE it wrote follows a commit), and the job exits with 75 at once, without reconciling.

Exit codes: 0 ok; 1 the load failed (retryable, after a delay); 2 bad configuration; 3 bad data or a
reconciliation mismatch (a retry would not help); 75 stopped by SIGTERM (EX_TEMPFAIL: what it
committed is kept; retry at once). A job that ran out of memory says so, naming its limit and
BATON_JOB_MEMORY (exit 2: a retry with the same limit would run out again).
Settings (environment): BATON_RECONCILE=fail|warn overrides the source's `baton.reconcile`;
BATON_EL_LOCK_WAIT_SECONDS how long to wait for a live run of the same source (default 600).
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(__file__).resolve().parent  # system_db.py lives next to this file
MELTANO = os.environ.get("BATON_MELTANO_BIN", "meltano")
RESULT_PREFIX = "BATON_RESULT: "
LOADER_LINE = re.compile(r"baton-loader: (\{.*)")
METRIC_LINE = re.compile(r"METRIC: (\{.*)")
KINDS = ("postgres", "files")

EXIT_LOAD, EXIT_CONFIG, EXIT_DATA, EXIT_STOPPED = 1, 2, 3, 75
# Faults that heal by themselves: a database restarting or unreachable for a moment, a DuckDB file
# held by another process. Matched on the job's output.
TRANSIENT = re.compile(
    r"could not connect to server|connection refused|server closed the connection unexpectedly|"
    r"terminating connection due to administrator command|the database system is (starting up|shutting down)|"
    r"connection to server .* failed|Could not set lock on file|Conflicting lock is held|"
    r"SSL SYSCALL error: EOF detected|connection already closed|OperationalError: \(psycopg.*\) consuming input failed",
    re.IGNORECASE,
)
# Faults a retry cannot fix: the data or the configuration is wrong; the job says which.
PERMANENT = re.compile(
    r"non-finite number|schema validation|cannot change the type|refusing to narrow|future bookmark|"
    r"Extractor failed.*does not exist|not a valid",
    re.IGNORECASE,
)
RETRY_DELAYS = (3, 6, 12)  # seconds: about 20 s of waiting over three retries


def plugins(source: str) -> tuple[str, str]:
    """The naming convention of a source's plugins, defined here only: (extractor, loader)."""
    return f"tap-{source}", f"target-raw-{source}"


class JobError(RuntimeError):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Stop:
    """SIGTERM: passed on to the running `meltano` (which stops its plugins gracefully); with no
    `meltano` running, the job stops where it is."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.child: subprocess.Popen | None = None

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self.handle)

    def handle(self, signum: int, _frame: object) -> None:
        first = self.signal is None
        self.signal = signum
        if self.child is not None and self.child.poll() is None:
            if first:
                print("el: SIGTERM: stopping the load at its next batch boundary", flush=True)
            self.child.send_signal(signum)
            return
        raise self.error()

    def error(self) -> JobError:
        return JobError("stopped by SIGTERM; what was committed is kept: retry at once", EXIT_STOPPED)


STOP = Stop()


@dataclass
class Declaration:
    """The `baton:` block of meltano/sources/<source>.meltano.yml, plus what the job reads from it."""

    source: str
    kind: str
    reconcile: str
    extractor: dict[str, Any]
    path: Path
    secrets: list[str] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)


def declaration(source: str, project: Path = PROJECT) -> Declaration:
    path = project / "sources" / f"{source}.meltano.yml"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".meltano.yml") for p in (project / "sources").glob("*.meltano.yml"))
        raise JobError(f"no source '{source}': {path} does not exist (known sources: {', '.join(known)})", EXIT_CONFIG)
    data = yaml.safe_load(path.read_text()) or {}
    block = data.get("baton") or {}
    kind = block.get("kind")
    if kind not in KINDS:
        raise JobError(f"{path}: baton.kind is {kind!r}; choose one of {', '.join(KINDS)}", EXIT_CONFIG)
    reconcile = os.environ.get("BATON_RECONCILE") or block.get("reconcile", "fail")
    if reconcile not in ("fail", "warn"):
        raise JobError(
            f"{path}: baton.reconcile (or BATON_RECONCILE) is {reconcile!r}; choose fail or warn", EXIT_CONFIG
        )
    extractor_name, loader_name = plugins(source)
    declared = {
        kind: {p.get("name"): p for p in (data.get("plugins") or {}).get(kind, [])}
        for kind in ("extractors", "loaders")
    }
    extractor = declared["extractors"].get(extractor_name)
    if extractor is None or loader_name not in declared["loaders"]:
        raise JobError(f"{path} must declare the extractor {extractor_name} and the loader {loader_name}", EXIT_CONFIG)
    return Declaration(
        source=source,
        kind=kind,
        reconcile=reconcile,
        extractor=extractor,
        path=path,
        secrets=list(block.get("secrets") or []),
        folders=dict(block.get("folders") or {}),
    )


# --- 1. extract-load -----------------------------------------------------------------------------
@dataclass
class Load:
    rows: int | None
    read: dict[str, int]
    loaded: dict[str, dict[str, Any]]


def _json_after(match: re.Match[str]) -> dict[str, Any] | None:
    try:
        value, _ = json.JSONDecoder().raw_decode(match.group(1))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def parse_output(lines: list[str]) -> Load:
    """What the loader reported (`baton-loader: {...}` lines) and the extractor read (METRIC lines)."""
    loaded: dict[str, dict[str, Any]] = {}
    read: dict[str, int] = {}
    for line in lines:
        if m := LOADER_LINE.search(line):
            report = _json_after(m)
            if report and "stream" in report:
                loaded[report["stream"]] = report
        elif m := METRIC_LINE.search(line):
            metric = _json_after(m)
            if metric and metric.get("metric") == "record_count":
                stream = (metric.get("tags") or {}).get("stream", "")
                read[stream] = read.get(stream, 0) + int(metric.get("value", 0))
    if loaded:
        rows: int | None = sum(int(r.get("rows", 0)) for r in loaded.values())
    else:
        rows = sum(read.values()) if read else None
    return Load(rows=rows, read=read, loaded=loaded)


def folder_environment(decl: Declaration, environ: dict[str, str]) -> dict[str, str]:
    """The declared folders as environment variables: VAR=<BATON_JOB_DATA_DIR>/<folder>, unless set."""
    data_dir = environ.get("BATON_JOB_DATA_DIR")
    env = {}
    for var, folder in decl.folders.items():
        if environ.get(var):
            continue
        if not data_dir:
            raise JobError(f"{decl.path} declares the folder {var}: set {var} or BATON_JOB_DATA_DIR", EXIT_CONFIG)
        env[var] = str(Path(data_dir) / folder)
        Path(env[var]).mkdir(parents=True, exist_ok=True)
    return env


def memory_limit() -> int | None:
    """The container's memory limit in bytes (cgroup v2, else v1); None when unlimited or unknown."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = Path(path).read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < 1 << 60:
            return int(raw)
        return None
    return None


def oom_kills() -> int:
    """Processes of this container the kernel's OOM killer has killed (cgroup v2 memory.events)."""
    try:
        text = Path("/sys/fs/cgroup/memory.events").read_text()
    except OSError:
        return 0
    match = re.search(r"^oom_kill (\d+)$", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def out_of_memory(source: str, limit: int | None) -> JobError:
    size = f"{limit / 2**20:.0f} MiB" if limit else "the machine's memory"
    return JobError(
        f"the ingestion job of {source} ran out of memory (limit {size}; DuckDB's memory_limit "
        f"{os.environ.get('BATON_DUCKDB_MEMORY_LIMIT', 'unset')}): raise BATON_JOB_MEMORY (sandbox, settings.env) "
        "or the jobs task's memory (ECS, Terraform jobs_memory); a retry with the same limit would run out again",
        EXIT_CONFIG,
    )


def run_meltano(source: str) -> Load:
    cmd = [MELTANO, "run", *plugins(source)]
    for attempt in range(len(RETRY_DELAYS) + 1):
        lines: list[str] = []
        print(f"el: {' '.join(cmd[1:])} (attempt {attempt + 1})", flush=True)
        oom_before = oom_kills()
        with subprocess.Popen(
            cmd, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        ) as proc:
            STOP.child = proc
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    sys.stdout.write(line)
                    lines.append(line.rstrip("\n"))
            finally:
                proc.wait()
                STOP.child = None
        if STOP.signal is not None:
            raise STOP.error()
        if proc.returncode == 0:
            return parse_output(lines)
        if oom_kills() > oom_before:
            raise out_of_memory(source, memory_limit())
        text = "\n".join(lines[-400:])
        if PERMANENT.search(text):
            raise JobError(
                f"the load of {source} failed on its data (see the error above); a retry will not help", EXIT_DATA
            )
        if attempt < len(RETRY_DELAYS) and TRANSIENT.search(text):
            delay = RETRY_DELAYS[attempt]
            print(f"el: transient fault ({TRANSIENT.search(text).group(0)!r}); retrying in {delay} s", flush=True)
            time.sleep(delay)
            continue
        raise JobError(f"`{' '.join(cmd[1:])}` exited with code {proc.returncode}", EXIT_LOAD)
    raise AssertionError("unreachable")


# --- 2. reconciliation ---------------------------------------------------------------------------
@dataclass
class Stream:
    stream: str
    schema: str
    table: str
    keys: list[str]
    replication_key: str | None


def raw_path(source: str) -> Path:
    """The raw database of a source in `files` mode (in `lake` mode, the lake of the same name)."""
    return Path(os.environ.get("BATON_WAREHOUSE_DIR", "/data/warehouse")) / f"raw_{source}.duckdb"


def _warehouse() -> Any:
    """The loader's warehouse module (files or lake: one way to connect), from the kit's package folder."""
    package = PROJECT / "packages" / "target-baton-duckdb"
    if str(package) not in sys.path:
        sys.path.insert(0, str(package))
    from target_baton_duckdb import warehouse

    return warehouse


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def raw_streams(conn: Any) -> list[Stream]:
    has_catalogue = conn.execute(
        "select count(*) from information_schema.tables where table_schema = '_baton' and table_name = 'streams'"
    ).fetchone()[0]
    if not has_catalogue:
        return []
    rows = conn.execute(
        "select stream, table_schema, table_name, key_properties, replication_key from _baton.streams order by stream"
    ).fetchall()
    return [Stream(s, sch, t, list(k or []), rk or None) for s, sch, t, k, rk in rows]


def _raw_counts(conn: Any, s: Stream) -> tuple[int, int]:
    table = f"{_ident(s.schema)}.{_ident(s.table)}"
    keys = ", ".join(_ident(k) for k in s.keys)
    distinct = f"count(distinct ({keys}))" if s.keys else "count(*)"
    return tuple(conn.execute(f"select count(*), {distinct} from {table}").fetchone())  # type: ignore[return-value]


def reconcile_postgres(decl: Declaration, conn: Any, streams: list[Stream]) -> dict[str, dict[str, int]]:
    """Source rows and keys against raw, per stream.

    The source keeps changing after the load. With a replication key, W = the newest key value in
    raw: the raw table must hold every source row with key <= W, plus the rows changed after the
    load (key > W) that it held already. Anything else (a row lost, a row deleted in raw, a
    duplicate key) is a mismatch.
    """
    import psycopg

    url = os.path.expandvars(str((decl.extractor.get("config") or {}).get("sqlalchemy_url", "")))
    if not url or "$" in url:
        raise JobError(f"{decl.path}: tap-{decl.source}'s sqlalchemy_url is not set ({url!r})", EXIT_CONFIG)
    url = re.sub(r"^postgresql\+\w+://", "postgresql://", url)
    figures: dict[str, dict[str, int]] = {}
    with psycopg.connect(url, autocommit=False) as pg:
        pg.execute("set transaction isolation level repeatable read read only")
        pg.execute("set local timezone = 'UTC'")
        for s in streams:
            schema, _, table = s.stream.partition("-")
            source_table = f"{_ident(schema)}.{_ident(table or schema)}"
            key_list = ", ".join(_ident(k) for k in s.keys)
            distinct = f"count(distinct ({key_list}))" if s.keys else "count(*)"
            (total, total_keys) = pg.execute(f"select count(*), {distinct} from {source_table}").fetchone()
            raw_rows, raw_keys = _raw_counts(conn, s)
            expected = total
            if s.replication_key and not s.keys:
                # No keys: raw must hold exactly the source rows up to its newest key value (rows
                # added after the load lie beyond it), plus those without a key value.
                rk = _ident(s.replication_key)
                (newest,) = conn.execute(
                    f"select max({rk})::varchar from {_ident(s.schema)}.{_ident(s.table)}"
                ).fetchone()
                if newest is not None:
                    (expected,) = pg.execute(
                        f"select count(*) from {source_table} where {rk} <= %s or {rk} is null", (newest,)
                    ).fetchone()
            elif s.replication_key and s.keys:
                rk = _ident(s.replication_key)
                (newest,) = conn.execute(
                    f"select max({rk})::varchar from {_ident(s.schema)}.{_ident(s.table)}"
                ).fetchone()
                if newest is None:
                    expected = 0 if raw_rows == 0 else total
                else:
                    (upto,) = pg.execute(f"select count(*) from {source_table} where {rk} <= %s", (newest,)).fetchone()
                    later = pg.execute(f"select {key_list} from {source_table} where {rk} > %s", (newest,)).fetchall()
                    held = 0
                    if later:
                        _keys_table(conn, s, later)
                        (held,) = conn.execute(
                            f"select count(*) from {_ident(s.schema)}.{_ident(s.table)} "
                            f"semi join _later using ({key_list})"
                        ).fetchone()
                    expected = upto + held
            figures[s.stream] = {
                "source": int(total),
                "source_keys": int(total_keys),
                "expected": int(expected),
                "raw": int(raw_rows),
                "raw_keys": int(raw_keys),
            }
        pg.rollback()
    return figures


def _keys_table(conn: Any, s: Stream, keys: list[tuple]) -> None:
    """A temp table `_later` of the given key tuples, typed like the raw table's key columns."""
    key_list = ", ".join(_ident(k) for k in s.keys)
    conn.execute(
        f"create or replace temp table _later as select {key_list} from {_ident(s.schema)}.{_ident(s.table)} limit 0"
    )
    row = "(" + ", ".join("?" for _ in s.keys) + ")"
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        conn.execute(f"insert into _later values {', '.join(row for _ in chunk)}", [v for k in chunk for v in k])


def reconcile_files(decl: Declaration, conn: Any, streams: list[Stream], load: Load) -> dict[str, dict[str, int]]:
    """Rows and distinct keys of the files the extractor reads, against raw."""
    files = (decl.extractor.get("config") or {}).get("files") or []
    by_table = {f.get("table_name"): f for f in files}
    figures: dict[str, dict[str, int]] = {}
    for s in streams:
        spec = by_table.get(s.stream)
        if spec is None:
            continue
        pattern = os.path.expandvars(spec["path"])
        keys = list(spec.get("primary_keys") or s.keys)
        rows, seen = 0, set()
        for name in sorted(glob.glob(pattern)):
            with open(name, newline="", encoding=spec.get("encoding", "utf-8")) as fh:
                for record in csv.DictReader(fh, delimiter=spec.get("delimiter", ",")):
                    rows += 1
                    seen.add(tuple(record.get(k) for k in keys) if keys else rows)
        raw_rows, raw_keys = _raw_counts(conn, s)
        figures[s.stream] = {
            "source": rows,
            "source_keys": len(seen),
            "expected": len(seen),
            "raw": int(raw_rows),
            "raw_keys": int(raw_keys),
            "read": int(load.read.get(s.stream, 0)),
        }
    return figures


def mismatches(figures: dict[str, dict[str, int]]) -> list[str]:
    """Each stream whose raw table differs from the source, saying which side has more and what to do."""
    problems = []
    for stream, f in sorted(figures.items()):
        expected, raw = f["expected"], f["raw"]
        if raw > expected:
            problems.append(
                f"{stream}: raw has {raw - expected} row(s) more than the source ({raw} against {expected}): likely "
                "duplicates from a re-read (a table without key properties loaded by a loader that appended, or "
                "rows removed at the source after they were loaded). Reset the stream's bookmark "
                "(`make state`, or the meltano_state DAG) so the next run reloads the table"
            )
        elif raw < expected:
            problems.append(
                f"{stream}: raw has {expected - raw} row(s) fewer than the source ({raw} against {expected}): a "
                "lost load or rows deleted in raw. Reset the stream's bookmark (`make state`, or the meltano_state "
                "DAG) so the next run reloads the table"
            )
        elif f["raw_keys"] != raw:
            problems.append(
                f"{stream}: raw has {raw} rows but {f['raw_keys']} distinct keys (duplicate keys). Reset the "
                "stream's bookmark (`make state`, or the meltano_state DAG) so the next run reloads the table"
            )
    return problems


def schema_changes(load: Load) -> list[dict[str, Any]]:
    """The schema changes the loader announced (`baton-loader:` lines), every stream's in one list."""
    changes = []
    for report in load.loaded.values():
        changes += [c for c in report.get("schema_changes") or [] if isinstance(c, dict)]
    return changes


def reconcile(decl: Declaration, load: Load) -> dict[str, dict[str, int]]:
    warehouse = _warehouse()
    try:
        settings = warehouse.Settings.from_env()
    except warehouse.WarehouseError as exc:
        raise JobError(str(exc), EXIT_CONFIG) from exc
    path = raw_path(decl.source)
    if settings.mode == "files" and not path.exists():
        raise JobError(f"{path} does not exist after the load of {decl.source}", EXIT_DATA)
    if settings.mode == "lake":
        path = f"the lake raw_{decl.source}"
    # In memory, with the raw database (file or lake) attached read-only and used as the default: temp
    # tables allowed.
    name = f"raw_{decl.source}"
    try:
        conn = warehouse.connect_reader([name], settings=settings, paths={name: raw_path(decl.source)})
    except warehouse.WarehouseError as exc:
        raise JobError(str(exc), EXIT_CONFIG) from exc
    with conn:
        conn.execute("set timezone = 'UTC'")
        streams = raw_streams(conn)
        if not streams:
            raise JobError(f"{path} has no _baton.streams catalogue: was it written by target-baton-duckdb?", EXIT_DATA)
        if decl.kind == "postgres":
            return reconcile_postgres(decl, conn, streams)
        return reconcile_files(decl, conn, streams, load)


@contextlib.contextmanager
def source_lock(source: str) -> Iterator[None]:
    """The source's lock on Meltano's system database, and Meltano's records of dead runs of its
    pipeline marked failed; nothing to lock where the system database is not Postgres (SQLite: one
    process)."""
    import psycopg

    if str(BIN) not in sys.path:
        sys.path.insert(0, str(BIN))
    import system_db

    dsn = system_db.dsn_of(os.environ.get("MELTANO_DATABASE_URI", ""))
    if dsn is None:
        yield
        return
    wait = float(os.environ.get("BATON_EL_LOCK_WAIT_SECONDS") or 600)
    try:
        with system_db.source_lock(dsn, source, wait, log=_say) as conn:
            system_db.fail_dead_runs(conn, "-to-".join(plugins(source)), log=_say)
            yield
    except system_db.SourceBusy as exc:
        raise JobError(str(exc), EXIT_LOAD) from None
    except psycopg.OperationalError as exc:
        raise JobError(f"cannot take the lock of {source} on Meltano's system database: {exc}", EXIT_LOAD) from None


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return EXIT_CONFIG
    source = argv[0]
    result: dict[str, Any] = {"source": source, "rows": None, "reconciled": {}, "schema_changes": [], "ok": False}
    code = 0
    STOP.install()
    try:
        decl = declaration(source)
        os.environ.update(folder_environment(decl, dict(os.environ)))
        with source_lock(source):
            load = run_meltano(source)
            result["rows"] = load.rows
            result["schema_changes"] = schema_changes(load)
            figures = reconcile(decl, load)
        result["reconciled"] = figures
        for stream, f in sorted(figures.items()):
            print(f"el: reconciled {stream}: source {f['expected']} raw {f['raw']} (raw keys {f['raw_keys']})")
        problems = mismatches(figures)
        if problems:
            detail = "; ".join(problems)
            if decl.reconcile == "fail":
                raise JobError(f"reconciliation of {source} failed: {detail}", EXIT_DATA)
            print(f"el: WARNING reconciliation of {source}: {detail} (baton.reconcile is warn)", flush=True)
            result["warnings"] = problems
        result["ok"] = True
    except JobError as exc:
        print(f"el: ERROR {exc}", file=sys.stderr, flush=True)
        result["error"] = str(exc)
        code = exc.code
    print(RESULT_PREFIX + json.dumps(result, sort_keys=True), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
