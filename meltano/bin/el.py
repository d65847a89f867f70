"""The ingestion job of one source: extract-load, then reconcile source and raw, in one process.

    python bin/el.py SOURCE          (in the jobs image: baton-job el SOURCE)

0. Meltano's system database has its schema (created by the first job: meltano/bin/system_db.py).
   The source's lock (meltano/bin/system_db.py): a Postgres advisory lock on Meltano's system
   database, held on the job's own connection until the job ends or dies. A live run of the same
   source is waited for (BATON_EL_LOCK_WAIT_SECONDS, default 600), naming it; Meltano's record of a
   dead run of the pipeline is then marked failed at once, so Meltano runs.
1. `meltano run tap-<source> target-raw-<source>`, its output passed through. A transient fault
   (a database restarting, a DuckDB file locked by another process) is retried in the job, with
   backoff, within about 20 s (RETRY_DELAYS); the load is state-based and upserts by key, so a retry
   is safe. A Postgres source's catalog is kept from one run to the next while the source's tables,
   the Meltano project and the extractor are unchanged: Meltano then skips discovery
   (meltano/bin/catalog_cache.py).
2. Reconciliation of every stream the loader keeps in raw_<source>.duckdb (its `_baton.streams`
   catalogue; in lake mode the lake, attached while Meltano runs), against the source the source
   file declares (`baton.kind`: postgres or files; see meltano/bin/reconciliation.py); a mismatch
   says which side has more rows and what to do.
3. The last output line is `BATON_RESULT: {json}` (source, rows, reconciled, schema_changes, ok):
   the ingestion task puts it into the raw_<source> event's extra. schema_changes lists the
   columns the loader found dropped from, widened in or added to a stream's schema.

On SIGTERM (docker stop, an ECS StopTask, a Spot interruption's notice) the job passes it on to
Meltano, which stops the extractor and the loader; the loader commits the batch it holds and stops
(every STATE it wrote follows a commit), and the job exits with 75 at once, without reconciling.

The job contract (exit codes, the result line, the source file's `baton:` block, the plugins' names)
is baton_contract's (packages/baton-contract), shared with the Airflow that runs the job.
Exit codes: 0 ok; 1 the load failed (retryable, after a delay); 2 bad configuration; 3 bad data or a
reconciliation mismatch (a retry would not help); 75 stopped by SIGTERM (EX_TEMPFAIL: what it
committed is kept; retry at once). A job that ran out of memory says so, naming its limit and
BATON_JOB_MEMORY (exit 2: a retry with the same limit would run out again).
Settings (environment): BATON_RECONCILE=fail|warn overrides the source's `baton.reconcile`;
BATON_EL_LOCK_WAIT_SECONDS how long to wait for a live run of the same source (default 600);
BATON_EL_CATALOG_CACHE=off makes every run discover the source's catalog.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import catalog_cache
import system_db
from baton_contract.declaration import ContractError, Declaration, declaration
from baton_contract.job import (
    EXIT_CONFIG,
    EXIT_DATA,
    EXIT_FAILED,
    EXIT_STOPPED,
    loader_reports,
    records_read,
    result_line,
)
from baton_contract.naming import plugins
from baton_contract.waiting import retry
from reconciliation import Load, connect_raw, in_lake, mismatches, reconcile, source_url

PROJECT = Path(__file__).resolve().parent.parent
MELTANO = os.environ.get("BATON_MELTANO_BIN", "meltano")

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

    def error(self) -> ContractError:
        return ContractError("stopped by SIGTERM; what was committed is kept: retry at once", EXIT_STOPPED)


STOP = Stop()


# --- 1. extract-load -----------------------------------------------------------------------------
def parse_output(lines: list[str]) -> Load:
    """What the loader reported (`baton-loader: {...}` lines) and the extractor read (METRIC lines)."""
    loaded = loader_reports(lines)
    read = records_read(lines)
    if loaded:
        rows: int | None = sum(int(r.get("rows", 0)) for r in loaded.values())
    else:
        rows = sum(read.values()) if read else None
    return Load(rows=rows, read=read, loaded=loaded)


def schema_changes(load: Load) -> list[dict[str, Any]]:
    """The schema changes the loader announced (`baton-loader:` lines), every stream's in one list."""
    changes = []
    for report in load.loaded.values():
        changes += [c for c in report.get("schema_changes") or [] if isinstance(c, dict)]
    return changes


def folder_environment(decl: Declaration, environ: dict[str, str]) -> dict[str, str]:
    """The declared folders as environment variables: VAR=<BATON_JOB_DATA_DIR>/<folder>, unless set."""
    data_dir = environ.get("BATON_JOB_DATA_DIR")
    env = {}
    for var, folder in decl.folders.items():
        if environ.get(var):
            continue
        if not data_dir:
            raise ContractError(f"{decl.path} declares the folder {var}: set {var} or BATON_JOB_DATA_DIR", EXIT_CONFIG)
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


def out_of_memory(source: str, limit: int | None) -> ContractError:
    size = f"{limit / 2**20:.0f} MiB" if limit else "the machine's memory"
    return ContractError(
        f"the ingestion job of {source} ran out of memory (limit {size}; DuckDB's memory_limit "
        f"{os.environ.get('BATON_DUCKDB_MEMORY_LIMIT', 'unset')}): raise BATON_JOB_MEMORY (sandbox, settings.env) "
        "or the jobs task's memory (ECS, Terraform jobs.memory); a retry with the same limit would run out again",
        EXIT_CONFIG,
    )


class TransientFault(RuntimeError):
    """A load that failed on a fault that heals by itself (TRANSIENT): tried again."""

    def __init__(self, fault: str, returncode: int) -> None:
        super().__init__(fault)
        self.returncode = returncode


def _load_once(source: str, cmd: list[str], attempt: int, env: dict[str, str]) -> Load:
    lines: list[str] = []
    print(f"el: {' '.join(cmd[1:])} (attempt {attempt})", flush=True)
    oom_before = oom_kills()
    with subprocess.Popen(
        cmd,
        cwd=PROJECT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as proc:
        STOP.child = proc
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()  # live in the task log, whatever the runner's buffering
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
        raise ContractError(
            f"the load of {source} failed on its data (see the error above); a retry will not help", EXIT_DATA
        )
    if fault := TRANSIENT.search(text):
        raise TransientFault(fault.group(0), proc.returncode)
    raise ContractError(f"`{' '.join(cmd[1:])}` exited with code {proc.returncode}", EXIT_FAILED)


def run_meltano(source: str, env: dict[str, str] | None = None) -> Load:
    """`meltano run` of the source's plugins (`env` added to the job's environment); a transient fault is
    tried again after each of RETRY_DELAYS."""
    cmd = [MELTANO, "run", *plugins(source)]
    attempts = itertools.count(1)

    def waiting(fault: BaseException, _attempt: int, delay: float) -> None:
        print(f"el: transient fault ({str(fault)!r}); retrying in {delay:g} s", flush=True)

    try:
        return retry(
            lambda: _load_once(source, cmd, next(attempts), env or {}),
            delays=RETRY_DELAYS,
            when=lambda exc: isinstance(exc, TransientFault),
            before_sleep=waiting,
        )
    except TransientFault as exc:
        raise ContractError(f"`{' '.join(cmd[1:])}` exited with code {exc.returncode}", EXIT_FAILED) from None


class KeptCatalog:
    """The source's catalog kept from one run to the next (catalog_cache.py): handed to Meltano when the
    fingerprint of the source's tables, the project and the extractor matches, kept after a run that
    discovered it. It only saves time: where it cannot be read or kept, the run discovers as usual."""

    def __init__(self, decl: Declaration, system: Any) -> None:
        self.decl = decl
        self.system = system
        self.tap = plugins(decl.source)[0]
        self.fingerprint: str | None = None
        self.file: Path | None = None
        self.started = time.time()

    def environment(self) -> dict[str, str]:
        """The extractor's catalog for Meltano (TAP_<SOURCE>__CATALOG) when one is kept for this fingerprint."""
        if self.system is None or not catalog_cache.applies(self.decl, os.environ):
            return {}
        try:
            self.fingerprint = catalog_cache.fingerprint(self.decl, PROJECT, os.environ, source_url(self.decl))
            kept = catalog_cache.kept(self.system, self.tap, self.fingerprint)
        except Exception as exc:  # a missing shortcut, never a failed load
            print(f"el: {self.tap}'s kept catalog is not used ({exc}); Meltano discovers the source", flush=True)
            self.fingerprint = None
            return {}
        if kept is None:
            print(
                f"el: {self.tap}'s catalog is discovered (a first run, or the source's tables, the Meltano "
                "project or the extractor changed); it is kept for the next runs",
                flush=True,
            )
            return {}
        handle, name = tempfile.mkstemp(prefix=f"{self.tap}-catalog-", suffix=".json")
        with os.fdopen(handle, "w") as f:
            f.write(kept)
        self.file = Path(name)
        print(
            f"el: {self.tap}'s catalog as an earlier run discovered it (the source's tables, the Meltano project "
            "and the extractor are unchanged): no discovery",
            flush=True,
        )
        return {catalog_cache.catalog_variable(self.decl.source): name}

    def keep(self) -> None:
        """After a successful run that discovered the catalog: keep the one Meltano wrote for it."""
        if self.fingerprint is None or self.file is not None:
            return
        path = catalog_cache.run_catalog(PROJECT, self.tap)
        try:
            if path.stat().st_mtime >= self.started:
                catalog_cache.keep(self.system, self.tap, self.fingerprint, path.read_text())
        except Exception as exc:  # the next run discovers again
            print(f"el: {self.tap}'s catalog could not be kept ({exc}); the next run discovers again", flush=True)

    def close(self) -> None:
        if self.file is not None:
            self.file.unlink(missing_ok=True)


# --- 2. reconciliation (reconciliation.py), under the source's lock ------------------------------
class EarlyReader:
    """In lake mode, the reconciliation's connection to the raw lake, opened while Meltano runs
    (loading the lake's extensions and attaching its catalog take a few tenths of a second): each
    of its queries reads the lake's latest snapshot, so it sees every commit of the load. Where it
    cannot be opened yet (the first load creates the lake), the reconciliation opens its own after
    the load. A DuckDB file is never opened beside its writer: files mode opens after the load."""

    def __init__(self, decl: Declaration) -> None:
        self.conn: Any = None
        self._thread: threading.Thread | None = None
        try:
            lake = in_lake()
        except ContractError:
            lake = False  # a bad warehouse setting: the reconciliation names it after the load
        if lake:
            self._thread = threading.Thread(target=self._open, args=(decl,), daemon=True)
            self._thread.start()

    def _open(self, decl: Declaration) -> None:
        with contextlib.suppress(Exception):
            self.conn = connect_raw(decl)

    def take(self) -> Any:
        """The connection, once opened (None where it was not); the caller closes it."""
        if self._thread is not None:
            self._thread.join()
        conn, self.conn = self.conn, None
        return conn

    def close(self) -> None:
        if (conn := self.take()) is not None:
            conn.close()


@contextlib.contextmanager
def source_lock(source: str) -> Iterator[Any]:
    """The source's lock on Meltano's system database, and Meltano's records of dead runs of its
    pipeline marked failed; yields the lock's connection (autocommit). Nothing to lock where the system
    database is not Postgres (SQLite: one process): yields None."""
    import psycopg

    dsn = system_db.dsn_of(os.environ.get("MELTANO_DATABASE_URI", ""))
    if dsn is None:
        yield None
        return
    wait = float(os.environ.get("BATON_EL_LOCK_WAIT_SECONDS") or 600)
    try:
        with system_db.source_lock(dsn, source, wait, log=_say) as conn:
            system_db.fail_dead_runs(conn, "-to-".join(plugins(source)), log=_say)
            yield conn
    except system_db.SourceBusy as exc:
        raise ContractError(str(exc), EXIT_FAILED) from None
    except psycopg.OperationalError as exc:
        raise ContractError(
            f"cannot take the lock of {source} on Meltano's system database: {exc}", EXIT_FAILED
        ) from None


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
        decl = declaration(source, PROJECT)
        os.environ.update(folder_environment(decl, dict(os.environ)))
        if system_db.main() != 0:
            raise ContractError("Meltano's system database is not ready (see the error above)", EXIT_FAILED)
        with source_lock(source) as system:
            early = EarlyReader(decl)
            catalog = KeptCatalog(decl, system)
            try:
                load = run_meltano(source, catalog.environment())
                catalog.keep()
                result["rows"] = load.rows
                result["schema_changes"] = schema_changes(load)
                figures = reconcile(decl, load, early.take())
            finally:
                catalog.close()
                early.close()
        result["reconciled"] = figures
        for stream, f in sorted(figures.items()):
            print(f"el: reconciled {stream}: source {f['expected']} raw {f['raw']} (raw keys {f['raw_keys']})")
        problems = mismatches(figures)
        if problems:
            detail = "; ".join(problems)
            if decl.reconcile == "fail":
                raise ContractError(f"reconciliation of {source} failed: {detail}", EXIT_DATA)
            print(f"el: WARNING reconciliation of {source}: {detail} (baton.reconcile is warn)", flush=True)
            result["warnings"] = problems
        result["ok"] = True
    except ContractError as exc:
        print(f"el: ERROR {exc}", file=sys.stderr, flush=True)
        result["error"] = str(exc)
        code = exc.code
    print(result_line(result), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
