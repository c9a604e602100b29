"""One-time migration of stored run configs for SACConfig's new ``critic_lr`` field and defaults (issue 14).

``SACConfig`` gained ``critic_lr`` (the critics' and V's learning rate, until then ``lr``) and its defaults
``alpha_lr`` 3e-4 → 1e-3 and ``alpha`` 0.2 → 1.0 changed. A stored run is *unchanged in behaviour* — and only then
is its config rewritten here, without touching a value — when every difference between its stored config and the
config the current code resolves for the same (setting, seed) is one of:

* ``critic_lr`` absent before and now equal to that same config's ``lr`` (the critics were trained with ``lr``);
* ``alpha_lr`` changed in a config with ``autotune = False`` (a fixed temperature has no optimiser).

Every other run (e.g. the WPO runs, whose trust region is new) is left as it is, so the experiment's cache
re-trains it. ``--check`` only reports. Smoke runs of the affected experiments are bit-identical before and after
the change (checked when the change was made; see the commit message). Run from a committed tree:

    .venv/bin/python tools/migrate_sac_lrs.py point_mass swimmer_alpha diffusion_toy
"""

from __future__ import annotations

import json
import sys

from _rekey import rekey_runs, with_note  # tools/_rekey.py (scripts run with tools/ on sys.path)

from mdrl_lib.experiments import jobs_of
from mdrl_lib.results import config_sha, load_results, results_path, save_results
from mdrl_lib.utils import canonical_json

NOTE = "run config migrated for SACConfig.critic_lr (= lr) and the alpha_lr default (unused with a fixed α)"


def _allowed(old, new) -> bool:
    """True when ``old`` → ``new`` differs only by the behaviour-neutral changes of the module docstring."""
    if isinstance(old, dict) and isinstance(new, dict):
        for k in set(old) | set(new):
            if k == "critic_lr" and k not in old and "lr" in old and new.get(k) == old["lr"]:
                continue
            if k == "alpha_lr" and k in old and k in new and old.get("autotune") is False:
                continue
            if k not in old or k not in new or not _allowed(old[k], new[k]):
                return False
        return True
    return old == new


def migrate(name: str, check: bool = False) -> None:
    path = results_path(name, "quick")
    ds = load_results(path)
    cfg = json.loads(ds.attrs["config"])
    jobs = {job.key: job for job in jobs_of(name, cfg)[0]}
    records, new_configs, moved, kept = rekey_runs(ds, jobs, _allowed, NOTE)
    print(f"{name}: {moved} run config(s) migrated, {len(kept)} left to re-train")
    for line in kept:
        print("   ", line)
    if check or not moved:
        return
    ds.attrs["runs"] = canonical_json(records)
    ds.attrs["run_configs"] = canonical_json(new_configs)
    assert all(config_sha(v) == k for k, v in json.loads(ds.attrs["run_configs"]).items())
    ds.attrs["migration"] = with_note(ds.attrs.get("migration"), NOTE)
    save_results(ds, path)


if __name__ == "__main__":
    args = sys.argv[1:]
    check = "--check" in args
    for experiment in [a for a in args if a != "--check"]:
        migrate(experiment, check=check)
