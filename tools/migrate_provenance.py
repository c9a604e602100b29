"""One-time migration of the committed schema-1 results files to schema 2 (per-run configs and provenance).

Schema-1 files keyed their cache on the experiment's CONFIGS entry only and recorded one commit per file. This
tool rewrites ``data/<experiment>/quick.nc`` for the experiments that are too long to re-run in a session (point
mass, heavy Swimmer, diffusion MaxEnt, DIME) **without changing a single value**, after checking, run by run, that
the code at the commits which trained them resolved exactly the agent config, schedule and environment that the
current code resolves (``tools/capture_run_configs.py`` ran each commit's own experiment code up to its call of
``train()``; its outputs are ``tools/migration/<experiment>.json``, identical at every commit listed in
:data:`TRAINED`). A run whose config differs stops the migration. Run from a committed tree:

    .venv/bin/python tools/migrate_provenance.py point_mass swimmer_alpha diffusion_maxent dime
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from mdrl_lib.experiments import get_experiment, jobs_of
from mdrl_lib.results import (
    _records,
    _with_file_attrs,
    _with_run_wall_times,
    code_provenance,
    load_results,
    results_path,
    save_results,
)
from mdrl_lib.sweep import combine
from mdrl_lib.utils import canonical_json

HERE = Path(__file__).resolve().parent
AGENT_OF = {"MaxDiffAgent": "MaxDiff", "MPPIAgent": "NN-MPPI", "SACAgent": "SAC", "WPOAgent": "WPO",
            "PPOAgent": "PPO", "DiffSACAgent": "DiffSAC", "DiffWPOAgent": "DiffWPO", "DiffPPOAgent": "DiffPPO",
            "DIMEAgent": "DIME"}
#: the commits each file's runs were trained between, every one of which resolved the same configs (captured)
TRAINED = {
    "point_mass": ("831eefe1fda378ab8735afbe697e3f86b7f7b399",
                   ["589370beaa2a1910124736465d2d4d62d9e19057", "37e4f075545d52451f1eff5ef227929445de73c4",
                    "41e95c47e077ed0f55e975d2b20e99a7474041be", "02bf7833b4f6ac6f431540075a37748aafdecfbd",
                    "831eefe1fda378ab8735afbe697e3f86b7f7b399"],
                   "trained from per-run caches between 589370b (quick config set) and 831eefe (file written)"),
    "swimmer_alpha": ("541afc56e8c89c98270f0cc4f0dbd3215851db9f+dirty",
                      ["541afc56e8c89c98270f0cc4f0dbd3215851db9f", "5b63213b38603e6867f4d96561ebb6f4b29011bf"],
                      "trained from 541afc5 with uncommitted changes; the data commit 5b63213 resolves the same"),
    "dime": ("8931347a4f796fabe3f6dc4a432e0d53d92ad8fd+dirty",
             ["8931347a4f796fabe3f6dc4a432e0d53d92ad8fd", "589370beaa2a1910124736465d2d4d62d9e19057"],
             "trained from 8931347 with uncommitted changes; the data commit 589370b resolves the same"),
}
FULL = {"02584b07a3d5553fa3e2671ea554826ee55f5d57": ["02584b07a3d5553fa3e2671ea554826ee55f5d57",
                                                      "02bf7833b4f6ac6f431540075a37748aafdecfbd"],
        "dd97388e137f2ec0db1ff6c8e26fa2e3dc0c253e": ["dd97388e137f2ec0db1ff6c8e26fa2e3dc0c253e",
                                                      "02bf7833b4f6ac6f431540075a37748aafdecfbd"]}
MIN_WALL = 5.0  # a smaller recorded time is a run resumed from its final checkpoint: its training time was lost


def _plain(x):
    return json.loads(canonical_json(x))


def old_label(name: str, job) -> str:
    s, seed = job.setting, job.seed
    if name == "point_mass":
        return f"{s['algo']}|{s['beta']!r}|{seed}"
    if name == "swimmer_alpha":
        method = f"MaxDiff a={s['alpha']:g}" if s["algo"] == "MaxDiff" else s["algo"]
        return f"{method}|{seed}"
    if name == "diffusion_maxent":
        return f"{s['env']}|{s['algo']}|{s['K']}|{seed}"
    return f"{seed}"


def verify(name: str, job, run, captured: dict, old_cfg: dict) -> None:
    """Stop unless the captured old run equals the job's resolved config field for field (the environment as
    ``gymnasium`` resolves it: id, kwargs with the registered defaults, episode limit)."""
    cap, new = captured[old_label(name, job)], _plain(job.config)
    env = run.make_env()
    spec = env.spec
    env.close()
    agent = {k: v for k, v in new["agent"].items() if k != "type"}
    checks = {
        "algorithm": (AGENT_OF[cap["agent_type"]], new["algo"]),
        "agent config": (_plain(cap["agent"]), agent),
        "schedule": ({k: v for k, v in cap["train"].items() if k != "seed"}, new["train"]),
        "seed": (cap["train"]["seed"], job.seed),
        "env": ((cap["env_id"], _plain(cap["env_kwargs"]), cap["max_episode_steps"]),
                (spec.id, _plain(spec.kwargs), spec.max_episode_steps)),
    }
    for key, value in new["extra"].items():
        if key in old_cfg:
            checks[f"extra.{key}"] = (_plain(old_cfg[key]), value)
    if name == "point_mass":
        checks["extra.record_path"] = (True, new["extra"]["record_path"])
    if name == "swimmer_alpha":
        checks["extra.record_path"] = (False, new["extra"]["record_path"])
    bad = {k: v for k, v in checks.items() if v[0] != v[1]}
    if bad:
        raise SystemExit(f"{name} {job.label} seed {job.seed}: the old code resolved a different run: {bad}")


def old_layout(name: str, old: xr.Dataset) -> xr.Dataset:
    """The schema-1 data in the schema-2 layout (only the Swimmer's ``method`` strings change: algo × alpha)."""
    if name != "swimmer_alpha":
        return old
    parts = []
    for method in old.method.values:
        algo, alpha = (("MaxDiff", float(str(method).split("=")[1])) if str(method).startswith("MaxDiff")
                       else (str(method), 0.0))
        parts.append(old.sel({"method": method}).drop_vars(["method", "alpha"]).expand_dims(algo=[algo],
                                                                                            alpha=[alpha]))
    return xr.combine_by_coords(parts, combine_attrs="drop_conflicts")


def records_for(name: str, old: xr.Dataset, jobs) -> list[dict]:
    wall = old_layout(name, old).get("run_wall_time_s")
    reused = json.loads(old.attrs.get("reused_runs", "[]"))
    out = []
    for job in jobs:
        if name == "diffusion_maxent":
            label = f"{job.setting['env']} {job.setting['algo']} K={job.setting['K']}"
            src = next(r for r in reused if label in r["runs"])
            commit, created, verified = src["from_commit"], src["from_created_at"], FULL[src["from_commit"]]
            note = f"trained at {commit[:7]}, kept by the schema-1 grid reuse in 02bf783"
        else:
            commit, verified, note = TRAINED[name]
            created = old.attrs["created_at"]
        seconds = float(wall.sel({**job.setting, "seed": job.seed})) if wall is not None else np.nan
        known = bool(np.isfinite(seconds) and seconds >= MIN_WALL)
        out.append({
            "label": job.label, "setting": dict(job.setting), "seed": job.seed, "config": job.sha,
            "git_commit": commit, "verified_commits": verified, "wall_time_s": round(seconds, 3) if known else None,
            "device": old.attrs["device"], "created_at": created,
            "migration": note + ("" if known else "; training time not recorded (resumed run or per-file timing)"),
        })
    return out


def migrate(name: str) -> Path:
    module = get_experiment(name)
    path = results_path(name, "quick")
    raw = path.read_bytes()
    old = load_results(path)
    if "runs" in old.attrs:
        raise SystemExit(f"{path} already has per-run records")
    old_cfg = json.loads(old.attrs["config"])
    cfg = dict(module.SIZES["quick"])
    same = {k: old_cfg.get(k, "<absent>") == _plain(v) for k, v in cfg.items()}
    if not all(same.values()):
        raise SystemExit(f"{name}: SIZES['quick'] differs from the file's config in {[k for k in same if not same[k]]}")
    capture_file = HERE / "migration" / f"{name}.json"
    captured = json.loads(capture_file.read_text())["runs"]
    jobs, runs = jobs_of(module, cfg)
    for job in jobs:
        verify(name, job, runs[job.label], captured, old_cfg)
    provenance = code_provenance("quick")  # refuses an uncommitted tree
    data = old_layout(name, old)
    parts = [data.sel({**{k: [v] for k, v in j.setting.items()}, "seed": [j.seed]}).drop_attrs()
             .drop_vars("run_wall_time_s", errors="ignore") for j in jobs]
    ds = combine(parts, [j.setting for j in jobs], [j.seed for j in jobs])
    ds = module.finish(ds, cfg) if hasattr(module, "finish") else ds
    records = records_for(name, old, jobs)
    ds = _with_run_wall_times(ds, jobs, records)
    ds = _with_file_attrs(ds, name, "quick", cfg, jobs, records, provenance, 0.0)
    ds.attrs["device"] = old.attrs["device"]
    ds.attrs["migration"] = canonical_json({
        "tool": "tools/migrate_provenance.py", "date": dt.date.today().isoformat(),
        "from": {"schema_version": int(old.attrs["schema_version"]), "git_commit": old.attrs["git_commit"],
                 "created_at": old.attrs["created_at"], "sha256": hashlib.sha256(raw).hexdigest()},
        "captures": {capture_file.name: hashlib.sha256(capture_file.read_bytes()).hexdigest()},
        "rule": "every run's agent config, schedule and environment as resolved by the code at each of its "
                "verified_commits equals what the current code resolves; values unchanged",
    })
    for v in old.data_vars:  # not one value may change
        if v == "run_wall_time_s":
            continue
        a = data[v]
        b = ds[v].transpose(*a.dims).reindex({d: a[d].values for d in a.dims if d in a.coords})
        if not np.array_equal(a.values, b.values, equal_nan=a.dtype.kind == "f"):
            raise SystemExit(f"{name}: variable {v} changed in the migration")
    prev = load_results(path)
    _records(prev)  # readable before overwrite
    save_results(ds, path)
    print(f"{name}: {len(jobs)} runs verified against {capture_file.name}, wrote {path}")
    return path


if __name__ == "__main__":
    for experiment in sys.argv[1:]:
        migrate(experiment)
