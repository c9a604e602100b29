"""The shared step of the one-time run-config migrations (``tools/migrate_*.py``).

A stored run is re-keyed — its record points at the config the current code resolves for the same (setting, seed),
with a ``migration`` note — when ``allowed(stored config, current config)`` says the difference cannot change its
numbers; no value of the data is touched. Each migration script supplies its own ``allowed`` rule and note.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from mdrl_lib.results import config_changes
from mdrl_lib.utils import canonical_json


def with_note(previous: str | None, note: str) -> str:
    """``previous; note`` (or ``note`` alone): migration notes accumulate."""
    return f"{previous}; {note}" if previous else note


def rekey_runs(ds, jobs: dict, allowed: Callable[[dict, dict], bool], note: str
               ) -> tuple[list[dict], dict[str, dict], int, list[str]]:
    """Re-key the runs of results file ``ds`` against ``jobs`` (``{job.key: job}`` from ``jobs_of``).

    Returns ``(records, run_configs, moved, kept)``: the new ``runs`` records and ``run_configs`` attribute, how
    many runs were re-keyed, and one line per run left as it is (its config differs by more than ``allowed``, or it
    is not in the grid) — those the experiment will re-train.
    """
    records = json.loads(ds.attrs["runs"])
    stored = json.loads(ds.attrs["run_configs"])
    configs, moved, kept = {}, 0, []
    for rec in records:
        job = jobs.get((canonical_json(rec["setting"]), int(rec["seed"])))
        old = stored[rec["config"]]
        new = json.loads(canonical_json(dict(job.config))) if job is not None else None
        if job is not None and rec["config"] != job.sha and allowed(old, new):
            rec["config"] = job.sha
            rec["migration"] = with_note(rec.get("migration"), note)
            moved += 1
        elif job is None or rec["config"] != job.sha:
            kept.append(f"{rec['label']} seed {rec['seed']}: " + ("; ".join(config_changes(old, new)[:3])
                                                                   if job is not None else "not in the grid"))
        configs[rec["config"]] = new if job is not None and rec["config"] == job.sha else old
    return records, configs, moved, kept
