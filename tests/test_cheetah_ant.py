"""Issue 13: the episodic HalfCheetah and Ant experiment (docs/methods/maxdiff.md §5.8) and its published settings."""

import numpy as np
import pytest
import torch
import xarray as xr

from mdrl_lib.agents import agent_config, make_agent
from mdrl_lib.agents.maxdiff import MaxDiffAgent
from mdrl_lib.agents.nn_mppi import MPPIAgent
from mdrl_lib.envs import make_env
from mdrl_lib.experiments import RunContext, get_experiment, jobs_of, run_experiment
from mdrl_lib.experiments.single_shot import make_run_env

ca = get_experiment("cheetah_ant")
CHEETAH, ANT = ca.CHEETAH, ca.ANT


def test_cheetah_ant_smoke(isolated):
    cfg = ca.SIZES["smoke"]
    ds = run_experiment("cheetah_ant", "smoke", verbose=False)
    # the Ant's smoke budget is 20 steps (per_env), HalfCheetah's 40: evaluations at 0, 20 (Ant) and 40 (HalfCheetah)
    assert dict(ds.sizes) == {"env": 2, "algo": 3, "seed": 1, "step": 3, "eval_episode": 2, "curve_step": 4}
    assert ds.env.values.tolist() == [CHEETAH, ANT] and ds.algo.values.tolist() == ["MaxDiff", "NN-MPPI", "SAC"]
    assert ds.curve_step.values.tolist() == [10, 20, 30, 40] and ds.step.values.tolist() == [0, 20, 40]
    assert {"best_return", "interval_return", "episodes", "eval_return", "eval_length", "last10_return",
            "full_episode_fraction"} <= set(ds.data_vars)
    ant, cheetah = ds.sel(env=ANT), ds.sel(env=CHEETAH)
    assert np.isfinite(cheetah.eval_return.sel(step=[0, 40])).all() and cheetah.eval_return.sel(step=20).isnull().all()
    assert np.isfinite(ant.eval_return.sel(step=[0, 20], eval_episode=0)).all()
    assert ant.eval_return.sel(step=40).isnull().all()
    assert ant.best_return.sel(curve_step=[30, 40]).isnull().all()  # past the Ant's budget
    assert (ds.eval_length.fillna(0) <= cfg["max_episode_steps"]).all()
    assert np.isfinite(ca.final_best(ds)).all() and np.isfinite(ds.last10_return).all()
    final_eval = ca.final_eval(ds)
    assert final_eval.dims == ("env", "algo", "seed", "eval_episode") and np.isfinite(final_eval.sel(env=CHEETAH)).all()
    # per_env: the Ant evaluates 1 episode, HalfCheetah 2 — the Ant's second slot is NaN, not a number
    assert np.isfinite(final_eval.sel(env=ANT, eval_episode=0)).all()
    assert final_eval.sel(env=ANT, eval_episode=1).isnull().all()
    assert (ds.episodes.max("curve_step") >= 1).all()
    # the running max never falls and is at least every raw interval's mean
    best, raw = ds.best_return.values, ds.interval_return.values
    step = np.diff(best[..., 1:], axis=-1)
    assert (step[np.isfinite(step)] >= 0).all() and np.isfinite(step[0]).all()  # the Ant's curve ends at 20
    assert (np.nan_to_num(best, nan=np.inf) >= np.nan_to_num(raw, nan=-np.inf)).all()
    table = ca.running_max_table(ds)
    assert table.published_mean.sel(env=ANT, algo="MaxDiff").item() == 4077.0
    assert np.isfinite(table["mean"]).all()


def test_quick_and_paper_resolve_to_the_published_settings():
    paper, quick = ca.SIZES["paper"], ca.SIZES["quick"]
    hc = ca.resolve({"env": CHEETAH, "algo": "MaxDiff"}, paper)
    p, m = hc.agent.planner, hc.agent.model
    assert (p.horizon, p.samples, p.lam, p.alpha, p.sigma, p.window, p.control_variance) == \
           (10, 500, 0.5, 5.0, 0.3, False, False)
    assert p.explr_dims == (0, 1, 9, 10) and p.explr_weights == (1.0, 1.0, 0.05, 0.05)
    assert (m.hidden, m.lr, m.batch_size, m.model_iter) == ((200, 200), 3e-4, 256, 5)
    assert hc.agent.buffer_size == 1_000_000 and hc.agent.alpha_schedule == ()
    assert hc.env_kwargs == {"exclude_current_positions_from_observation": False} and hc.extra["clip_actions"]
    assert (hc.max_episode_steps, hc.train.total_steps, hc.train.eval_episodes) == (1000, 1_000_000, 100)
    hm = ca.resolve({"env": CHEETAH, "algo": "NN-MPPI"}, paper).agent
    assert (hm.planner.samples, hm.planner.horizon, hm.planner.alpha, hm.planner.explr_dims) == (500, 10, 0.0, None)
    assert hm.planner.control_variance and hm.model == m
    hs = ca.resolve({"env": CHEETAH, "algo": "SAC"}, paper).agent
    assert (hs.variant, hs.hidden, hs.batch_size, hs.reward_scale, hs.lr, hs.tau) == \
           ("v1", (256, 256), 256, 5.0, 3e-4, 0.005)
    ant = ca.resolve({"env": ANT, "algo": "MaxDiff"}, paper)
    p, m = ant.agent.planner, ant.agent.model
    assert (p.horizon, p.samples, p.lam, p.alpha) == (20, 1000, 0.5, 5.0)
    assert p.explr_dims == (0, 1, 2) and p.explr_weights == (1.0, 1.0, 0.005)
    assert (m.hidden, m.lr, m.batch_size, m.model_iter) == ((512, 512, 512), 3e-4, 256, 5)
    assert ant.env_kwargs == {"inertia": "cylinder"}  # the authors' MuJoCo 2.0 bodies, recorded in the run
    assert not ant.extra["clip_actions"]  # the Ant env clips its actions itself
    am = ca.resolve({"env": ANT, "algo": "NN-MPPI"}, paper).agent
    assert (am.planner.samples, am.planner.horizon, am.planner.alpha) == (1000, 20, 0.0) and am.model == m
    s = ca.resolve({"env": ANT, "algo": "SAC"}, paper).agent
    assert (s.hidden, s.batch_size, s.reward_scale) == ((512, 512, 512), 256, 5.0)
    assert len(jobs_of("cheetah_ant", paper)[0]) == 60 and paper["seeds"] == [13 + 100 * i for i in range(10)]
    # quick: HalfCheetah 5 seeds × 15 k steps with exactly the paper's agents, and the Ant's first 3 episodes
    assert quick["envs"] == [CHEETAH, ANT] and quick["total_steps"] == 15_000
    ant_quick = ca.env_config(ANT, quick)
    assert ant_quick["total_steps"] == 3_000 and ant_quick["planner"] == {"samples": 250}
    # quick's planned grid: the 5 first seeds of the paper's (a part of it: test_experiments.py)
    assert ca.QUICK_TARGET == {"envs": [CHEETAH, ANT], "seeds": paper["seeds"][:5]}
    for algo in ca.ALGOS:
        q, pp = ca.resolve({"env": CHEETAH, "algo": algo}, quick), ca.resolve({"env": CHEETAH, "algo": algo}, paper)
        assert q.agent == pp.agent and q.env_kwargs == pp.env_kwargs and q.max_episode_steps == 1000
    assert len(jobs_of("cheetah_ant", quick)[0]) == 3 * len(quick["seeds"]) * len(quick["envs"])
    assert len(jobs_of("cheetah_ant", dict(quick, **ca.QUICK_TARGET))[0]) == 30


def test_make_agent_builds_the_published_model_based_agents_for_cheetah_and_ant():
    cheetah = make_env(CHEETAH, exclude_current_positions_from_observation=False)
    ant = make_env(ANT)
    assert agent_config("MaxDiff", cheetah).planner.samples == 500
    assert agent_config("NN-MPPI", ant).planner.samples == 1000
    small = {"planner": {"samples": 4, "horizon": 3}, "model": {"hidden": (8,)}}
    agent, cfg = make_agent("MaxDiff", ant, seed=0, device="cpu", **small)
    assert isinstance(agent, MaxDiffAgent) and cfg.planner.explr_dims == (0, 1, 2)
    agent, _ = make_agent("NN-MPPI", cheetah, seed=0, device="cpu", **small)
    assert isinstance(agent, MPPIAgent)
    # the published exploration dims index the observation with the root position kept
    with pytest.raises(ValueError, match=r"need the 18-number observation .* exclude_current_positions"):
        agent_config("MaxDiff", make_env(CHEETAH))
    with pytest.raises(ValueError, match=r"need the 29-number observation .* mdrl/AntMaxDiff-v0"):
        agent_config("NN-MPPI", make_env("Ant-v5"))


def test_run_envs_clip_actions_and_keep_the_episode_limit():
    hc = make_run_env(ca.resolve({"env": CHEETAH, "algo": "SAC"}, ca.SIZES["smoke"]))
    assert hc.observation_space.shape == (18,) and hc.spec.max_episode_steps == 20
    hc.reset(seed=0)
    action = np.array([3.0, -3, 0.5, 0, 0, 0])
    assert np.array_equal(hc.action(action), [1.0, -1, 0.5, 0, 0, 0])
    _, r, *_, info = hc.step(action)  # the authors' v3 reward, x-velocity − 0.1·‖a‖², on the clipped action (§3)
    assert r == pytest.approx(info["x_velocity"] - 0.1 * (1 + 1 + 0.25))
    ant = make_run_env(ca.resolve({"env": ANT, "algo": "SAC"}, ca.SIZES["paper"]))
    assert ant.observation_space.shape == (29,) and ant.spec.max_episode_steps == 1000


def test_bad_choices_name_the_bad_and_the_valid_values():
    with pytest.raises(ValueError, match=r"unknown environment\(s\) \['Hopper-v5'\]; valid environments are "
                                         r"HalfCheetah-v5, mdrl/AntMaxDiff-v0"):
        run_experiment("cheetah_ant", "smoke", overrides={"envs": ["Hopper-v5"]})
    with pytest.raises(ValueError, match=r"unknown algorithm\(s\) \['TD3'\]; valid algorithms are MaxDiff, NN-MPPI, "
                                         r"SAC"):
        run_experiment("cheetah_ant", "smoke", overrides={"algos": ["TD3"]})
    with pytest.raises(ValueError, match="eval_episodes must be >= 1"):
        run_experiment("cheetah_ant", "smoke", overrides={"eval_episodes": 0})
    with pytest.raises(ValueError, match=r"curve_points must be in 1..total_steps \(40\), got 50"):
        run_experiment("cheetah_ant", "smoke", overrides={"curve_points": 50})
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['steps'\] for cheetah_ant; valid: "):
        run_experiment("cheetah_ant", "smoke", overrides={"steps": 5})
    with pytest.raises(ValueError, match="unknown scale"):
        run_experiment("cheetah_ant", "huge")


@pytest.mark.parametrize(("env", "algo"), [(ANT, "MaxDiff"), (CHEETAH, "SAC")])
def test_run_resumes_bit_identically(env, algo, tmp_path, crash_run_env):
    """Interrupted after its checkpoint at step 20 and resumed with a fresh agent: the same Dataset."""
    from conftest import EnvCrash

    # 40 steps on both envs; one evaluation episode, so that the 31st env step counted is a training step
    run = ca.resolve({"env": env, "algo": algo}, dict(ca.SIZES["smoke"], per_env={}, eval_episodes=1))
    reference = ca.run_one(run, 3, RunContext())
    restore = crash_run_env(30)  # the training env's 31st step raises: the checkpoint of step 20 is the last one
    with pytest.raises(EnvCrash):
        ca.run_one(run, 3, RunContext(checkpoint_dir=tmp_path))
    restore()
    assert torch.load(tmp_path / "last.pt", weights_only=False)["step"] == 20
    xr.testing.assert_identical(ca.run_one(run, 3, RunContext(checkpoint_dir=tmp_path)), reference)


def test_scorecard_rows_read_the_released_runs_at_our_step():
    import json

    from mdrl_lib import references, scorecard

    steps, seeds = 15_000, [13, 113, 213]
    pub = {a: references.published_curve(references.published_folder(a, "half_cheetah", alpha=5)).sel(step=steps).values
           for a in ca.ALGOS}
    assert np.mean(pub["NN-MPPI"]) > np.mean(pub["MaxDiff"]) > np.mean(pub["SAC"])  # the published order at 15 k

    def fake(values):  # algo -> 3 seed values of the running max at the budget
        best = np.array([[values[a] for a in ca.ALGOS]])[..., None]  # (env, algo, seed, curve_step)
        return xr.Dataset({"best_return": (("env", "algo", "seed", "curve_step"), best)},
                          coords={"env": [CHEETAH], "algo": list(ca.ALGOS), "seed": seeds, "curve_step": [steps]},
                          attrs={"config": json.dumps({"total_steps": steps, "planner": {}})})

    medians = {a: [float(np.median(pub[a]))] * 3 for a in ca.ALGOS}
    rows = scorecard.cheetah_ant_rows(fake(medians))
    assert [r.rule for r in rows] == ["range"] * 3 + ["best"]
    assert all(r.verdict == "inside" for r in rows[:3]) and "15,000 steps" in rows[0].claim
    assert rows[3].verdict == "reproduced" and "NN-MPPI best" in rows[3].claim  # our medians keep the order
    # MaxDiff first in ours: the published winner (NN-MPPI) is not first, so not reproduced; far above: outside
    flipped = dict(medians, MaxDiff=[float(pub["NN-MPPI"].max()) + 1000.0] * 3)
    rows = scorecard.cheetah_ant_rows(fake(flipped))
    assert rows[0].verdict == "outside" and rows[3].verdict == "not reproduced"
    assert "cheetah_ant" in scorecard.ROWS


def test_each_env_is_read_at_the_end_of_its_own_budget():
    """per_env budgets (the quick Ant stops at 3 k, HalfCheetah at 15 k): the scorecard and final_best read each
    environment at its own last step, not at the shared grid's last (NaN for the shorter run)."""
    import json

    from mdrl_lib import scorecard

    cfg = {"total_steps": 15_000, "planner": {}, "per_env": {ANT: {"total_steps": 3_000, "planner": {"samples": 250}}}}
    best = np.full((2, 3, 2, 2), np.nan)  # (env, algo, seed, curve_step [3 k, 15 k])
    best[0] = [[100.0, 300.0]] * 2  # HalfCheetah at 3 k and 15 k
    best[1, :, :, 0] = 75.0  # the Ant's only point
    ds = xr.Dataset({"best_return": (("env", "algo", "seed", "curve_step"), best)},
                    coords={"env": [CHEETAH, ANT], "algo": list(ca.ALGOS), "seed": [13, 113],
                            "curve_step": [3_000, 15_000]}, attrs={"config": json.dumps(cfg)})
    final = ca.final_best(ds)
    assert final.sel(env=CHEETAH).values.tolist() == [[300.0] * 2] * 3 and (final.sel(env=ANT) == 75.0).all()
    assert ca.env_config(ANT, cfg)["total_steps"] == 3_000 and ca.env_config(CHEETAH, cfg)["total_steps"] == 15_000
    rows = scorecard.cheetah_ant_rows(ds)
    ant = [r for r in rows if r.figure == "14 · Ant"]
    assert len(ant) == 4 and all("3,000 steps" in r.claim for r in ant[:3]) and "3,000 steps" in ant[3].ours
    assert all(r.verdict == "inside" for r in ant[:3])  # 75 is inside every published Ant range at 3 k
    assert "'samples': 250" in ant[3].ours
    assert all("15,000 steps" in r.claim for r in rows if r.figure == "14 · HalfCheetah" and r.rule == "range")


def test_per_env_overrides_are_checked():
    from mdrl_lib.experiments import experiment_config

    with pytest.raises(ValueError, match=r"unknown per_env environment\(s\) \['Ant-v5'\]"):
        experiment_config("cheetah_ant", "smoke", {"per_env": {"Ant-v5": {}}})
    with pytest.raises(ValueError, match=r"per_env\['mdrl/AntMaxDiff-v0'\] key\(s\) \['alpha'\]"):
        experiment_config("cheetah_ant", "smoke", {"per_env": {ANT: {"alpha": 1.0}}})
    with pytest.raises(ValueError, match="curve_points must be in 1..total_steps"):
        experiment_config("cheetah_ant", "smoke", {"per_env": {ANT: {"curve_points": 50}}})
    quick = experiment_config("cheetah_ant", "quick", ca.QUICK_TARGET)
    ant = ca.resolve({"env": ANT, "algo": "MaxDiff"}, quick)
    assert ant.train.total_steps == 3_000 and ant.agent.planner.samples == 250 and ant.train.eval_episodes == 1
    assert ant.agent.planner.horizon == 20 and ant.agent.model.hidden == (512, 512, 512)  # otherwise published
    assert len(jobs_of("cheetah_ant", quick)[0]) == 30
