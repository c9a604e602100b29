"""The diffusion_maxent experiment keeps finished runs when only its (env, algo, K) grid grows."""

import json

import numpy as np
import xarray as xr

from mdrl_lib.experiments import diffusion_maxent

TINY = {"envs": ["InvertedPendulum-v5"], "algos": ["SAC", "DiffSAC"], "Ks": [1], "seeds": [0],
        "total_steps": 40, "eval_every": 40, "eval_episodes": 1, "max_episode_steps": 20, "hidden": [8, 8],
        "diffusion_hidden": [8, 8], "batch_size": 8, "random_steps": 10, "learning_starts": 10,
        "ppo_n_steps": 20, "ppo_minibatches": 2, "ppo_epochs": 1, "ppo_hidden": [8, 8],
        "K_sweep": {"envs": [], "Ks": []}}


def test_settings_add_the_K_sweep_on_its_envs_only():
    cfg = {**TINY, "envs": ["HalfCheetah-v5", "InvertedPendulum-v5"], "Ks": [4],
           "K_sweep": {"envs": ["InvertedPendulum-v5"], "Ks": [1, 8]}}
    got = {(s["env"], s["algo"], s["K"]) for s in diffusion_maxent.settings(cfg)}
    assert got == {("HalfCheetah-v5", "SAC", 0), ("HalfCheetah-v5", "DiffSAC", 4),
                   ("InvertedPendulum-v5", "SAC", 0), ("InvertedPendulum-v5", "DiffSAC", 1),
                   ("InvertedPendulum-v5", "DiffSAC", 4), ("InvertedPendulum-v5", "DiffSAC", 8)}


def test_growing_the_K_grid_trains_only_the_new_runs(isolated, monkeypatch):
    first = diffusion_maxent.run("quick", executor="serial", rerun=True, **TINY)
    calls = []
    real = diffusion_maxent.run_one

    def counting(seed, env, algo, K, cfg, root):
        calls.append((env, algo, K))
        return real(seed, env, algo, K, cfg, root)

    monkeypatch.setattr(diffusion_maxent, "run_one", counting)
    grown = diffusion_maxent.run("quick", executor="serial", rerun=True,
                                 **{**TINY, "K_sweep": {"envs": ["InvertedPendulum-v5"], "Ks": [2]}})
    assert calls == [("InvertedPendulum-v5", "DiffSAC", 2)]
    assert list(grown.K.values) == [0, 1, 2]  # sorted, whatever order the grid was built in
    for algo, K in (("SAC", 0), ("DiffSAC", 1)):  # the kept runs are the first file's, value for value
        xr.testing.assert_identical(grown.eval_return.sel(algo=algo, K=K, drop=True),
                                    first.eval_return.sel(algo=algo, K=K, drop=True))
    assert np.isfinite(grown.eval_return.sel(algo="DiffSAC", K=2)).all()
    (reused,) = json.loads(grown.attrs["reused_runs"])
    assert reused["from_commit"] == first.attrs["git_commit"]
    assert reused["from_created_at"] == first.attrs["created_at"]
    assert sorted(reused["runs"]) == ["InvertedPendulum-v5 DiffSAC K=1", "InvertedPendulum-v5 SAC K=0"]
    # a change outside the grid keys (here the seeds) trains everything again
    calls.clear()
    diffusion_maxent.run("quick", executor="serial", rerun=True, **{**TINY, "seeds": [1]})
    assert sorted(calls) == [("InvertedPendulum-v5", "DiffSAC", 1), ("InvertedPendulum-v5", "SAC", 0)]


def test_reuse_provenance_keeps_the_commit_that_trained_each_run():
    first = xr.Dataset(attrs={"git_commit": "aaa", "created_at": "t1"})
    second = xr.Dataset(attrs={"git_commit": "bbb", "created_at": "t2", "reused_runs": json.dumps(
        diffusion_maxent.reuse_provenance(first, ["E SAC K=0"]))})
    got = diffusion_maxent.reuse_provenance(second, ["E SAC K=0", "E DiffSAC K=1"])
    assert got == [{"from_commit": "aaa", "from_created_at": "t1", "runs": ["E SAC K=0"]},
                   {"from_commit": "bbb", "from_created_at": "t2", "runs": ["E DiffSAC K=1"]}]
