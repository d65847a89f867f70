"""The dbt job: run dbt, then say what failed and whether a retry can help, in one process.

    python bin/dbt_job.py ARGS...      (in the jobs image: baton-job dbt ARGS...)

1. `dbt ARGS...` in the dbt project, its output passed through.
2. When it ends, dbt's run_results.json (written by this invocation) is read and the outcome is
   classified:
     bad data            data tests failed (with their failing row counts), or a value the SQL
                         cannot take (a cast that fails on a raw value): a retry reads the same data
     bad configuration   the project is wrong: a compile or parse error, SQL that does not bind
                         (a column or table that does not exist), a unit test that fails
     transient           anything else (a lost connection, a DuckDB file locked by another
                         process, a killed process): retried
     lake conflict       (lake mode) another writer committed the same catalog entry first: the
                         build runs again in the job after a few seconds (CONFLICT_DELAYS), then
                         it is transient
3. The last output line is `BATON_RESULT: {json}`: command, ok, failure (the class above, when it
   failed), failed_tests [{name, failures, model, column}], errors [{name, message}], reason (one
   line for people: what `make run` and the task's failure reason show).

Exit codes (the job contract's, baton_contract.job): 0 ok; 1 failed, retryable; 2 bad configuration;
3 bad data. dbt's own exit code 2 (an unhandled error, e.g. a locked file) is not passed through:
it would read as "bad configuration".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from baton_contract.job import EXIT_CONFIG, EXIT_DATA, EXIT_FAILED, RESULT_PREFIX, baton_result
from baton_contract.waiting import retry

PROJECT = Path(__file__).resolve().parent.parent
BAD_DATA, BAD_CONFIG, TRANSIENT = "bad data", "bad configuration", "transient"

# Errors that a retry meets again. DuckDB names its error classes in the message.
CONFIG_ERRORS = re.compile(
    r"Compilation Error|Parsing Error|Binder Error|Parser Error|Catalog Error|Syntax Error|"
    r"does not exist yet|is undefined|Not able to get columns",
    re.IGNORECASE,
)
DATA_ERRORS = re.compile(r"Conversion Error|Invalid Input Error|Out of Range Error|Constraint Error", re.IGNORECASE)
# Faults that heal: these win over the classes above when both appear in one message.
TRANSIENT_ERRORS = re.compile(
    r"Could not set lock|Conflicting lock|IO Error|connection|timed? ?out|Out of Memory|killed", re.IGNORECASE
)
# Lake mode: another writer committed the same catalog entry first (two domains building a staging
# view they share, at the same moment). Such a build runs again in the job after CONFLICT_DELAYS
# (seconds), on what the other writer left; these win over every class above.
LAKE_CONFLICTS = re.compile(
    r"Transaction conflict|another entry with this name already exists|Failed to commit DuckLake", re.IGNORECASE
)
CONFLICT_DELAYS = (2, 5, 10)
REASON_LIMIT = 600


def dbt_binary() -> str:
    """BATON_DBT_BIN, else the dbt next to this Python (the job's virtualenv), else dbt on PATH."""
    explicit = os.environ.get("BATON_DBT_BIN")
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def target_path(args: list[str], project: Path = PROJECT) -> Path:
    """Where this invocation writes run_results.json: --target-path, DBT_TARGET_PATH, or target/."""
    for i, arg in enumerate(args):
        if arg == "--target-path" and i + 1 < len(args):
            found = Path(args[i + 1])
            break
        if arg.startswith("--target-path="):
            found = Path(arg.split("=", 1)[1])
            break
    else:
        found = Path(os.environ.get("DBT_TARGET_PATH") or "target")
    return found if found.is_absolute() else project / found


def read_results(target: Path, since: float) -> dict[str, Any] | None:
    """run_results.json when this invocation wrote it (not one an earlier run left), else None."""
    path = target / "run_results.json"
    try:
        if path.stat().st_mtime < since:
            return None
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _tests_detail(target: Path) -> dict[str, dict[str, str | None]]:
    """unique_id -> {model, column} of the data tests, from the manifest this invocation wrote."""
    try:
        nodes = json.loads((target / "manifest.json").read_text()).get("nodes", {})
    except (OSError, ValueError):
        return {}
    detail = {}
    for uid, node in nodes.items():
        if node.get("resource_type") != "test":
            continue
        attached = node.get("attached_node") or ""
        detail[uid] = {"model": attached.split(".")[-1] or None, "column": node.get("column_name")}
    return detail


def _name(unique_id: str) -> str:
    parts = unique_id.split(".")
    # test.<project>.<name>.<hash>, unit_test.<project>.<model>.<name>, model.<project>.<name>
    if parts[0] == "test" and len(parts) >= 4:
        return parts[2]
    return ".".join(parts[2:]) if len(parts) > 2 else unique_id


def _first_line(message: str | None) -> str:
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    # dbt's "Runtime Error in model x (path)" header says less than the database's own line.
    for line in lines:
        if re.search(r"\w+ Error:|Error:", line) and not line.startswith(("Runtime Error in", "Database Error in")):
            return line[:300]
    return (lines[0] if lines else "no message")[:300]


def classify(results: dict[str, Any] | None, output: str, code: int, target: Path) -> dict[str, Any]:
    """The BATON_RESULT of a dbt invocation that exited with `code`."""
    command = ((results or {}).get("args") or {}).get("which")
    if code == 0:
        nodes = (results or {}).get("results") or []
        return {
            "command": command,
            "ok": True,
            "models": sum(1 for r in nodes if r["unique_id"].startswith("model.")),
            "tests": sum(1 for r in nodes if r["unique_id"].startswith(("test.", "unit_test."))),
            "failed_tests": [],
            "errors": [],
        }
    detail = _tests_detail(target) if results else {}
    failed_tests, errors, kinds = [], [], set()
    for r in (results or {}).get("results") or []:
        uid, status = r["unique_id"], r.get("status")
        if status == "fail" and uid.startswith("test."):
            failed_tests.append({"name": _name(uid), "failures": r.get("failures"), **detail.get(uid, {})})
            kinds.add(BAD_DATA)
        elif status == "fail":  # a unit test: the model's logic, not the data
            errors.append({"name": _name(uid), "message": _first_line(r.get("message"))})
            kinds.add(BAD_CONFIG)
        elif status in ("error", "runtime error"):
            message = r.get("message") or ""
            errors.append({"name": _name(uid), "message": _first_line(message)})
            kinds.add(_kind_of(message))
    if not results:  # dbt stopped before it ran anything (a parse error, a locked file, a kill)
        kind = _kind_of(output) if output.strip() else TRANSIENT
        kinds.add(kind)
        line = next(
            (ln.strip() for ln in output.splitlines() if CONFIG_ERRORS.search(ln) or TRANSIENT_ERRORS.search(ln)),
            None,
        )
        errors.append({"name": "dbt", "message": (line or f"dbt exited with code {code}")[:300]})
    failure = TRANSIENT if TRANSIENT in kinds or not kinds else BAD_CONFIG if BAD_CONFIG in kinds else BAD_DATA
    result = {"command": command, "ok": False, "failure": failure, "failed_tests": failed_tests, "errors": errors}
    result["reason"] = reason(result)
    return result


def _kind_of(message: str) -> str:
    if LAKE_CONFLICTS.search(message):
        return TRANSIENT
    if TRANSIENT_ERRORS.search(message) and not CONFIG_ERRORS.search(message):
        return TRANSIENT
    if CONFIG_ERRORS.search(message):
        return BAD_CONFIG
    if DATA_ERRORS.search(message):
        return BAD_DATA
    return TRANSIENT


def _rows(n: Any) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def reason(result: dict[str, Any]) -> str:
    """One line: which tests failed with how many rows, or which nodes errored, and the class."""
    parts = []
    tests = result.get("failed_tests") or []
    if tests:
        named = ", ".join(f"{t['name']} ({_rows(t.get('failures'))})" for t in tests)
        parts.append(f"{len(tests)} data test{'s' if len(tests) != 1 else ''} failed: {named}")
    errors = result.get("errors") or []
    if errors:
        parts.append("; ".join(f"{e['name']}: {e['message']}" for e in errors))
    retry = "retryable" if result.get("failure") == TRANSIENT else "not retried"
    text = f"{'; '.join(parts) or 'dbt failed'} ({result.get('failure')}: {retry})"
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def exit_code(result: dict[str, Any]) -> int:
    if result["ok"]:
        return 0
    return {BAD_DATA: EXIT_DATA, BAD_CONFIG: EXIT_CONFIG}.get(result["failure"], EXIT_FAILED)


def said_by_dbt(lines: list[str]) -> dict[str, Any]:
    """What the project's own macros put in a BATON_RESULT line (lake mode: the snapshot the build
    left, dbt/macros/record_build.sql), carried into the job's result line."""
    return baton_result(lines) or {}


class LakeConflict(Exception):
    """A build that lost a race for a lake catalog entry to another writer: (exit code, result)."""


def run(args: list[str], project: Path = PROJECT) -> int:
    def attempt() -> tuple[int, dict[str, Any]]:
        code, result, output = invoke(args, project)
        if code > 0 and not result["ok"] and LAKE_CONFLICTS.search(output):
            raise LakeConflict(code, result)
        return code, result

    def again(exc: BaseException, next_attempt: int, delay: float) -> None:
        print(
            f"dbt lost a race for a lake catalog entry to another writer: try {next_attempt} in {delay:g} s", flush=True
        )

    try:
        code, result = retry(
            attempt, delays=CONFLICT_DELAYS, when=lambda e: isinstance(e, LakeConflict), before_sleep=again
        )
    except LakeConflict as exc:
        code, result = exc.args
    if code < 0:  # killed by a signal: nothing to read; the runner retries
        print(f"dbt was stopped by signal {-code}", flush=True)
        return 128 - code
    if not result["ok"]:
        print(f"dbt {' '.join(args)}: {result['reason']}", flush=True)
    print(RESULT_PREFIX + json.dumps(result, default=str, separators=(",", ":")), flush=True)
    return exit_code(result)


def invoke(args: list[str], project: Path) -> tuple[int, dict[str, Any], str]:
    """dbt ARGS once, its output passed through: (exit code, result, the output's tail)."""
    started = time.time() - 1  # file times are coarse on some file systems
    target = target_path(args, project)
    tail: list[str] = []
    proc = subprocess.Popen(
        [dbt_binary(), *args], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )

    def forward(signum: int, _frame: Any) -> None:  # docker stop / ECS StopTask reach dbt
        proc.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        tail.append(line)
        del tail[:-400]
    code = proc.wait()
    output = "".join(tail)
    if code < 0:
        return code, {"ok": False}, output
    return code, {**said_by_dbt(tail), **classify(read_results(target, started), output, code, target)}, output


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: dbt_job.py <dbt arguments>, e.g. build --select +tag:finance", file=sys.stderr)
        return EXIT_CONFIG
    return run(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
