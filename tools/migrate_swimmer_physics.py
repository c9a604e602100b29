"""One-time migration of the stored swimmer_alpha run configs for the Swimmer's new ``inertia`` keyword (issue 13).

``SwimmerEnv`` gained ``inertia``: ``"cylinder"`` (the new default, the authors' MuJoCo 2.0 segment masses and
inertias) or ``"mujoco3"`` (MuJoCo 3's exact capsules, which every Swimmer run used until then). The experiment now
names the physics in every scale of its ``SIZES`` and passes it as ``env_kwargs={"inertia": ...}``, so it is part of
each run's cache key; the committed quick runs were trained on MuJoCo 3 (their file records the mujoco version) with
no ``inertia`` keyword, i.e. with ``"mujoco3"``, which quick keeps for now.

A stored run is migrated — its config rewritten, its hash recomputed, a ``migration`` note added, no value touched —
only when the one difference between its stored config and the config the current code resolves for the same
(setting, seed) is ``env_kwargs.inertia`` absent before and ``"mujoco3"`` now. The file's experiment ``config``
attribute gains ``"inertia": "mujoco3"`` under the same rule, so the experiment then reuses the file as it is.
Afterwards every stored run's config hash must equal the one the current code resolves (nothing re-trains).
``--check`` only reports. Run from a committed tree:

    .venv/bin/python tools/migrate_swimmer_physics.py [--check]
"""

from __future__ import annotations

import json
import sys

from _rekey import rekey_runs, with_note  # tools/_rekey.py (scripts run with tools/ on sys.path)

from mdrl_lib.experiments import experiment_config, jobs_of
from mdrl_lib.results import config_sha, load_results, results_path, save_results
from mdrl_lib.utils import canonical_json

NAME, SCALE, PHYSICS = "swimmer_alpha", "quick", "mujoco3"
NOTE = (f"run config migrated for SwimmerEnv's inertia keyword: env_kwargs.inertia = {PHYSICS!r} recorded (the "
        "exact-capsule physics these runs were trained with on MuJoCo 3; tools/migrate_swimmer_physics.py)")


def _allowed(old: dict, new: dict) -> bool:
    """True when ``new`` is ``old`` with ``env_kwargs.inertia = PHYSICS`` added and nothing else changed."""
    if "inertia" in old.get("env_kwargs", {}) or new.get("env_kwargs", {}).get("inertia") != PHYSICS:
        return False
    added = json.loads(json.dumps(old))
    added.setdefault("env_kwargs", {})["inertia"] = PHYSICS
    return added == new


def migrate(check: bool = False) -> int:
    """Migrate (or with ``check`` only report) ``data/swimmer_alpha/quick.nc``; returns how many runs are reusable."""
    path = results_path(NAME, SCALE)
    ds = load_results(path)
    mujoco = json.loads(ds.attrs["versions"]).get("mujoco", "")
    if not mujoco.startswith("3."):
        raise SystemExit(f"{path} was written with mujoco {mujoco!r}, not MuJoCo 3: its physics is not {PHYSICS!r}")
    current = experiment_config(NAME, SCALE)
    if current["inertia"] != PHYSICS:
        raise SystemExit(f"SIZES[{SCALE!r}] resolves inertia {current['inertia']!r}; this migration records "
                         f"{PHYSICS!r} (the stored runs' physics), so it must run while quick still uses it")
    jobs = {job.key: job for job in jobs_of(NAME, current)[0]}
    records, new_configs, moved, kept = rekey_runs(ds, jobs, _allowed, NOTE)
    old_cfg = json.loads(ds.attrs["config"])
    cfg_moves = "inertia" not in old_cfg and {**old_cfg, "inertia": PHYSICS} == current
    print(f"{NAME} [{SCALE}]: {moved} of {len(records)} run config(s) migrated, {len(kept)} left to re-train; "
          f"experiment config {'gains inertia' if cfg_moves else 'unchanged'}")
    for line in kept:
        print("   ", line)
    if check or not (moved or cfg_moves):
        return len(records) - len(kept)
    if kept:
        raise SystemExit("not migrating: some runs differ by more than env_kwargs.inertia (listed above)")
    ds.attrs["runs"] = canonical_json(records)
    ds.attrs["run_configs"] = canonical_json(new_configs)
    if cfg_moves:
        ds.attrs["config"] = canonical_json(current)
    ds.attrs["migration"] = with_note(ds.attrs.get("migration"), NOTE)
    save_results(ds, path)
    return verify()


def verify() -> int:
    """Every run in the file keyed by the config the current code resolves; the experiment config equal too."""
    ds = load_results(results_path(NAME, SCALE))
    current = experiment_config(NAME, SCALE)
    jobs = {job.key: job for job in jobs_of(NAME, current)[0]}
    records, configs = json.loads(ds.attrs["runs"]), json.loads(ds.attrs["run_configs"])
    assert all(config_sha(v) == k for k, v in configs.items()), "a stored config does not hash to its key"
    assert len(records) == len(jobs), f"{len(records)} stored runs, {len(jobs)} in the grid"
    for rec in records:
        job = jobs[(canonical_json(rec["setting"]), int(rec["seed"]))]
        assert rec["config"] == job.sha, f"{rec['label']} seed {rec['seed']}: stored config is not the current one"
    assert ds.attrs["config"] == canonical_json(current), "the stored experiment config is not the current one"
    print(f"{NAME} [{SCALE}]: all {len(records)} stored runs are keyed by the configs the current code resolves "
          "(reused as they are, nothing re-trains)")
    return len(records)


if __name__ == "__main__":
    migrate(check="--check" in sys.argv[1:])
