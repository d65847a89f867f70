"""The subprocess runner: the CLIs on the machine the task runs on (tests, dev loops)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from baton.config import SubprocessSettings, runner_settings
from baton.runners.base import JobOperator, job_failed, job_result


class SubprocessJobOperator(JobOperator):
    """Runs the job here: `el`/`state` (meltano/bin/*.py with BATON_MELTANO_PYTHON) and `meltano` in
    the Meltano project, `dbt` in the dbt project (SubprocessSettings). The job inherits the
    worker's environment."""

    ui_color = "#e8f0e0"

    @staticmethod
    def resolve(command: Sequence[str], s: SubprocessSettings) -> tuple[list[str], Path]:
        tool, *args = command
        if tool in ("el", "state"):  # meltano/bin/el.py, meltano/bin/state.py
            return [s.meltano_python, str(s.meltano_project / "bin" / f"{tool}.py"), *args], s.meltano_project
        if tool == "meltano":
            return [s.meltano_bin, *args], s.meltano_project
        # The dbt job (dbt/bin/dbt_job.py) runs dbt and classifies its failures, as in the jobs image.
        dbt = Path(shutil.which(s.dbt_bin) or s.dbt_bin)
        return [str(dbt.parent / "python"), str(s.dbt_project / "bin" / "dbt_job.py"), *args], s.dbt_project

    def execute(self, context: Any) -> dict[str, Any] | None:
        settings = runner_settings("subprocess")
        assert isinstance(settings, SubprocessSettings)
        cmd, cwd = self.resolve(self.command, settings)
        self.log.info("running in %s: %s", cwd, " ".join(cmd))
        with subprocess.Popen(
            cmd, cwd=cwd, env={**os.environ, **self.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            assert proc.stdout is not None
            tail = self.log_lines(line.rstrip("\n") for line in proc.stdout)
        if proc.returncode != 0:
            raise job_failed(self.command, proc.returncode, tail, f" in {cwd}")
        return job_result(tail)
