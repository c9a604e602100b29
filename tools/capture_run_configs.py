"""Capture what an *old* checkout of mdrl_lib handed to ``train()`` for every run of a committed data file.

One-time migration aid (issue 11): ``python tools/capture_run_configs.py WORKTREE EXPERIMENT DATAFILE`` imports
``mdrl_lib`` from ``WORKTREE`` (a ``git worktree`` at the commit the data file records), rebuilds every
(setting, seed) of the file's recorded config through that commit's own experiment code, and stops each run at
its call of ``train(make_env, agent, config)``: it prints, as JSON, the agent's class and resolved config, the
``TrainConfig`` and the environment (id, kwargs, episode limit) for every run. Nothing is trained.
``tools/migrate_provenance.py`` compares these with what the current code resolves.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile


class _Stop(Exception):
    pass


def main(worktree: str, experiment: str, datafile: str) -> None:
    os.environ["MDRL_BUILD"] = tempfile.mkdtemp()  # no per-run caches or checkpoints from this checkout
    sys.path.insert(0, worktree)
    import importlib

    import h5netcdf  # noqa: F401
    import xarray as xr

    import mdrl_lib.train as train_mod

    assert train_mod.__file__.startswith(os.path.abspath(worktree)), train_mod.__file__
    with xr.open_dataset(datafile, engine="h5netcdf") as ds:
        cfg = json.loads(ds.attrs["config"])
        scale = ds.attrs["scale"]
    mod = importlib.import_module(f"mdrl_lib.experiments.{experiment}")
    captured: dict[str, dict] = {}
    current: dict = {}

    def fake_train(make_env, agent, config, **_):
        env = make_env()
        spec = env.spec
        current.update(
            agent_type=type(agent).__name__,
            agent=dataclasses.asdict(agent.config) if dataclasses.is_dataclass(getattr(agent, "config", None))
            else None,
            train=dataclasses.asdict(config),
            env_id=spec.id, env_kwargs=dict(spec.kwargs), max_episode_steps=spec.max_episode_steps,
        )
        raise _Stop

    train_mod.train = fake_train
    mod.train = fake_train
    if hasattr(mod, "point_mass_train"):  # pragma: no cover
        pass
    try:
        import mdrl_lib.experiments.point_mass as pm

        pm.train = fake_train
    except ImportError:  # pragma: no cover
        pass

    def call(label, fn, **kw):
        current.clear()
        try:
            fn(**kw)
        except _Stop:
            pass
        captured[label] = dict(current)

    if experiment == "point_mass":
        for algo in cfg["algos"]:
            for beta in cfg["betas"]:
                for seed in cfg["seeds"]:
                    call(f"{algo}|{beta!r}|{seed}", mod._RunPointMass(scale, cfg), seed=seed, algo=algo, beta=beta)
    elif experiment == "swimmer_alpha":
        for method in mod.methods(cfg):
            for seed in cfg["seeds"]:
                call(f"{method}|{seed}", mod._RunSwimmer(scale, cfg), seed=seed, method=method)
    elif experiment == "diffusion_maxent":
        for s in mod.settings(cfg):
            for seed in cfg["seeds"]:
                call(f"{s['env']}|{s['algo']}|{s['K']}|{seed}", mod._Bound(cfg, None), seed=seed, **s)
    elif experiment == "dime":
        fixed = {k: cfg[k] for k in ("env", "total_steps", "eval_every", "eval_episodes", "max_episode_steps",
                                     "agent", "probe_times", "n_action_samples", "threads")}
        for seed in cfg["seeds"]:
            call(f"{seed}", lambda seed: mod.run_one(seed, **fixed), seed=seed)
    else:
        raise SystemExit(f"no capture rule for {experiment!r}")
    json.dump({"experiment": experiment, "scale": scale, "config": cfg, "runs": captured}, sys.stdout,
              sort_keys=True, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:4])
