"""``satwin finish RESULTS_DIR``: complete a folder whose process died before finishing it.

A SIGKILL, an out-of-memory kill or a power loss leaves ``run.json`` at ``running`` with
whole Parquet chunks (each chunk is renamed into place only when written) and perhaps a
torn ``.tmp`` one. Finishing removes the torn chunks, counts what was recorded and writes
KPIs, verdicts, plot and report exactly as the end of a run does; ``status`` becomes
``recovered`` (a recovered run never passes its criteria: it did not run to its end).
Finishing again rewrites the same files, so it is safe to repeat; a folder its run finished
is left alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.config.errors import ScenarioError
from twin.results.reader import Results
from twin.run.session import Ending, write_outputs

RECOVERED_REASON = "the process ended without finishing the folder (killed or power loss); finished by satwin finish"


@dataclass(frozen=True)
class Finished:
    status: str
    steps: int
    kpis: dict[str, Any]
    changed: bool  # False: the run had finished its folder itself


def finish_folder(out_dir: Path) -> Finished:
    out_dir = Path(out_dir)
    meta_path = out_dir / "run.json"
    if not meta_path.is_file():
        raise ScenarioError(out_dir, None, "not a results folder (no run.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ScenarioError(meta_path, None, "run.json is not readable JSON") from None
    if meta.get("status") not in ("running", "recovered"):
        kpis = json.loads((out_dir / "kpi.json").read_text()) if (out_dir / "kpi.json").exists() else {}
        return Finished(str(meta.get("status")), int(meta.get("steps", 0)), kpis, changed=False)
    for torn in [*out_dir.glob("timeseries/*.tmp"), *out_dir.glob("events/*.tmp"), *out_dir.glob("*.tmp")]:
        torn.unlink()
    steps = sum(Results(out_dir).part_rows())
    meta.update(status="recovered", reason=RECOVERED_REASON, steps=steps, steps_recorded=steps,
                recovered_at=dt.datetime.now().astimezone().isoformat(timespec="seconds"))
    temporary = out_dir / "run.json.tmp"
    temporary.write_text(json.dumps(meta, indent=2, default=str))
    os.replace(temporary, meta_path)
    criteria = tuple(Results(out_dir).resolved.get("criteria", ()))
    kpis, _ = write_outputs(out_dir, criteria, Ending("recovered", RECOVERED_REASON))
    return Finished("recovered", steps, kpis, changed=True)
