"""The peer check (ours vs Stable-Baselines3): same settings reach SB3, same evaluation, an honest comparison rule."""

import numpy as np
import pytest
import xarray as xr

from mdrl_lib.experiments import diffusion_maxent, peer_check, run_experiment


def test_sb3_sac_gets_our_per_optimiser_learning_rates():
    sb3 = peer_check._sb3()
    from stable_baselines3.common.vec_env import DummyVecEnv

    from mdrl_lib.envs import make_env

    env = DummyVecEnv([lambda: make_env("InvertedPendulum-v5", max_episode_steps=50)])
    model = peer_check._sb3_sac_class(sb3)("MlpPolicy", env, learning_rate=3e-4, learning_starts=10, batch_size=8,
                                           policy_kwargs={"net_arch": [8, 8]}, device="cpu", seed=0)
    model.critic_lr, model.alpha_lr = 1e-3, 2e-3
    model.learn(40)
    assert model.actor.optimizer.param_groups[0]["lr"] == 3e-4
    assert model.critic.optimizer.param_groups[0]["lr"] == 1e-3
    assert model.ent_coef_optimizer.param_groups[0]["lr"] == 2e-3


def test_smoke_run_evaluates_both_implementations_on_the_same_steps():
    ds = run_experiment("peer_check", "smoke", executor="serial", verbose=False)
    assert set(ds.impl.values) == {"mdrl", "sb3"} and set(ds.algo.values) == {"SAC", "PPO"}
    ret = ds.eval_return.mean("eval_episode")
    for algo in ds.algo.values:
        steps = {impl: ret.sel(algo=algo, impl=impl).dropna("step", how="all").step.values.tolist()
                 for impl in ("mdrl", "sb3")}
        assert steps["mdrl"] == steps["sb3"] and steps["mdrl"][0] == 0


def _fake(ours, ref):
    v = np.array([ours, ref], dtype=float).T[None, None, :, None, :]  # (env, algo, seed, step, impl)
    return xr.Dataset({"eval_return": (("env", "algo", "seed", "eval_episode", "impl"), v)},
                      coords={"env": ["E"], "algo": ["SAC"], "impl": ["mdrl", "sb3"]}).expand_dims(step=[100])


@pytest.mark.parametrize("ours, ref, not_worse", [
    ([100, 110, 120, 130, 140], [105, 115, 125, 135, 145], True),  # intervals overlap
    ([900, 950, 1000, 1000, 1000], [100, 110, 120, 130, 140], True),  # ours higher
    ([10, 11, 12, 13, 14], [900, 950, 1000, 1000, 990], False),  # ours clearly worse
])
def test_comparison_rule(ours, ref, not_worse):
    (row,) = peer_check.comparison(_fake(ours, ref), n_boot=500)
    assert row["not_worse"] is not_worse
    assert row["mdrl_lo"] <= row["mdrl_iqm"] <= row["mdrl_hi"]


def test_final_scores_use_each_envs_own_last_evaluations():
    """Envs with different budgets: each env's final score comes from its own last two evaluations."""
    ret = np.full((2, 1, 1, 1, 4, 1), np.nan)
    ret[0, ..., :3, 0] = [0.0, 10.0, 20.0]  # short env: steps 0, 1000, 2000
    ret[1, ..., :, 0] = [0.0, 1.0, 2.0, 3.0]  # long env: steps 0 ... 3000
    ds = xr.Dataset({"eval_return": (("env", "algo", "K", "seed", "step", "eval_episode"), ret)},
                    coords={"env": ["short", "long"], "algo": ["SAC"], "K": [0], "seed": [0],
                            "step": [0, 1000, 2000, 3000]})
    fs = diffusion_maxent.final_scores(ds)
    assert float(fs.sel(env="short").squeeze()) == 15.0 and float(fs.sel(env="long").squeeze()) == 2.5
    assert diffusion_maxent.env_steps({"total_steps": {"short": 2000}}, "short") == 2000
    with pytest.raises(ValueError, match="total_steps has no entry for env"):
        diffusion_maxent.validate({"algos": ["SAC"], "envs": ["InvertedPendulum-v5"], "total_steps": {"x": 1}})


def test_bad_implementation_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown implementation"):
        run_experiment("peer_check", "smoke", overrides={"impls": ["mdrl", "cleanrl"]}, verbose=False)
