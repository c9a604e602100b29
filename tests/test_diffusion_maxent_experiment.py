"""The diffusion_maxent grid: the K sweep on its envs only; growing it trains only the new runs."""

import numpy as np
import xarray as xr

from mdrl_lib.experiments import diffusion_maxent, run_experiment

TINY = {"envs": ["InvertedPendulum-v5"], "algos": ["SAC", "DiffSAC"], "Ks": [1], "seeds": [0],
        "total_steps": 40, "eval_every": 40, "eval_episodes": 1, "max_episode_steps": 20, "hidden": [8, 8],
        "diffusion_hidden": [8, 8], "batch_size": 8, "random_steps": 10, "learning_starts": 10,
        "ppo_n_steps": 20, "ppo_minibatches": 2, "ppo_epochs": 1, "ppo_hidden": [8, 8],
        "K_sweep": {"envs": [], "Ks": []}}


def test_grid_adds_the_K_sweep_on_its_envs_only():
    cfg = {**TINY, "envs": ["HalfCheetah-v5", "InvertedPendulum-v5"], "Ks": [4],
           "K_sweep": {"envs": ["InvertedPendulum-v5"], "Ks": [1, 8]}}
    got = {(s["env"], s["algo"], s["K"]) for s in diffusion_maxent.grid(cfg)}
    assert got == {("HalfCheetah-v5", "SAC", 0), ("HalfCheetah-v5", "DiffSAC", 4),
                   ("InvertedPendulum-v5", "SAC", 0), ("InvertedPendulum-v5", "DiffSAC", 1),
                   ("InvertedPendulum-v5", "DiffSAC", 4), ("InvertedPendulum-v5", "DiffSAC", 8)}


def test_growing_the_K_grid_trains_only_the_new_runs(isolated, monkeypatch):
    monkeypatch.setenv("MDRL_ALLOW_DIRTY", "1")
    first = run_experiment("diffusion_maxent", "quick", overrides=TINY, executor="serial", verbose=False)
    calls = []
    real = diffusion_maxent.run_one

    def counting(run, seed, ctx):
        calls.append((run.env, run.algo, run.agent.diffusion.n_steps if run.algo != "SAC" else 0))
        return real(run, seed, ctx)

    monkeypatch.setattr(diffusion_maxent, "run_one", counting)
    grown = run_experiment("diffusion_maxent", "quick", executor="serial", verbose=False,
                           overrides={**TINY, "K_sweep": {"envs": ["InvertedPendulum-v5"], "Ks": [2]}})
    assert calls == [("InvertedPendulum-v5", "DiffSAC", 2)]
    assert list(grown.K.values) == [0, 1, 2]  # sorted, whatever order the grid was built in
    for algo, K in (("SAC", 0), ("DiffSAC", 1)):  # the kept runs are the first file's, value for value
        xr.testing.assert_identical(grown.eval_return.sel(algo=algo, K=K, drop=True),
                                    first.eval_return.sel(algo=algo, K=K, drop=True))
    assert np.isfinite(grown.eval_return.sel(algo="DiffSAC", K=2)).all()
