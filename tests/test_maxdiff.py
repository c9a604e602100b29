"""MaxDiff / NN-MPPI agents: smoke runs on both environments, exact kill-and-resume, bad input."""

from dataclasses import replace

import numpy as np
import pytest
import torch
import xarray as xr

from mdrl_lib.agents.maxdiff import MaxDiffAgent, maxdiff_config
from mdrl_lib.agents.nn_mppi import MPPIAgent, mppi_config
from mdrl_lib.envs import make_env
from mdrl_lib.train import TrainConfig, train

SMALL = {"samples": 16, "horizon": 6}


def small(cfg, batch=16):
    return replace(cfg, model=replace(cfg.model, batch_size=batch))


def make_pm():
    return make_env("mdrl/PointMass-v0", beta=0.01, max_episode_steps=40)


def pm_agent(seed=3, cls=MaxDiffAgent, cfg=None):
    cfg = cfg or small(maxdiff_config("point_mass", beta=0.01, **SMALL))
    return cls(4, 2, cfg, seed=seed, device="cpu")



CFG = TrainConfig(total_steps=120, eval_every=60, eval_episodes=1, checkpoint_every=30, seed=5)


def test_maxdiff_smoke_run_learns_model_and_switches_alpha():
    ds = train(make_pm, pm_agent(), CFG, progress=False)
    assert np.isfinite(ds.eval_return.values).all()
    nll = ds.model_nll.values
    assert np.isfinite(nll[1:]).all()
    # the point-mass alpha schedule (0.5 for the first 1000 steps, then 5) is applied from the config
    agent = pm_agent()
    agent.steps = 999
    agent.observe(np.zeros(4), np.zeros(2), 0.0, np.zeros(4), False, False)
    assert agent.planner.alpha == 5.0 and agent.eval_planner.alpha == 5.0


def test_swimmer_smoke_runs_both_agents():
    def make():
        return make_env("mdrl/SwimmerHeavy-v0", max_episode_steps=30)

    cfg = TrainConfig(total_steps=60, eval_every=60, eval_episodes=1, seed=0)
    for cls, conf in ((MaxDiffAgent, maxdiff_config), (MPPIAgent, mppi_config)):
        agent = cls(10, 2, small(conf("swimmer", **SMALL)), seed=0, device="cpu")
        ds = train(make, agent, cfg, progress=False)
        assert ds.sizes["step"] == 2 and np.isfinite(ds.eval_return.values).all()
        assert len(agent.buffer) == 60  # every transition stored, including the truncated ones


def test_same_seed_same_run_and_seed_matters():
    a = train(make_pm, pm_agent(), CFG, progress=False)
    b = train(make_pm, pm_agent(), CFG, progress=False)
    xr.testing.assert_identical(a, b)
    c = train(make_pm, pm_agent(seed=4), CFG, progress=False)
    assert not np.array_equal(a.eval_return.values, c.eval_return.values)


class Crash(RuntimeError):
    pass


def test_kill_and_resume_gives_identical_run(tmp_path):
    reference = train(make_pm, pm_agent(), CFG, progress=False)
    agent = pm_agent()
    real_update, calls = agent.update, []

    def dying_update():
        calls.append(1)
        if len(calls) == 100:  # between the checkpoints at steps 90 and 120
            raise Crash
        return real_update()

    agent.update = dying_update
    with pytest.raises(Crash):
        train(make_pm, agent, CFG, checkpoint_dir=tmp_path, progress=False)
    assert torch.load(tmp_path / "last.pt", weights_only=False)["step"] == 90
    resumed = train(make_pm, pm_agent(), CFG, checkpoint_dir=tmp_path, progress=False)  # a fresh agent
    xr.testing.assert_identical(resumed, reference)


def test_sarsa_buffer_stores_next_action_and_done():
    agent = pm_agent()
    s0, s1, s2 = np.zeros(4), np.ones(4), 2 * np.ones(4)
    a0, a1 = np.array([0.1, 0.2]), np.array([0.3, 0.4])
    agent.observe(s0, a0, -1.0, s1, False, False)
    assert len(agent.buffer) == 0  # waits for a'
    agent.observe(s1, a1, -2.0, s2, True, False)
    d = {k: agent.buffer.field(k)[:2] for k in ("next_action", "done")}
    np.testing.assert_allclose(d["next_action"][0].numpy(), a1)
    np.testing.assert_array_equal(d["done"].numpy().ravel(), [0.0, 1.0])
    np.testing.assert_array_equal(d["next_action"][1].numpy(), [0.0, 0.0])


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="unknown environment 'hopper'.*point_mass, swimmer, half_cheetah, ant"):
        maxdiff_config("hopper")
    with pytest.raises(ValueError, match="no single-shot MaxDiff settings for 'point_mass'; valid: swimmer, "):
        maxdiff_config("point_mass", beta=1.0, single_shot=True)
    with pytest.raises(ValueError, match="depend on beta"):
        maxdiff_config("point_mass")
    with pytest.raises(ValueError, match=r"unknown planner setting\(s\) \['sample'\]"):
        maxdiff_config("swimmer", sample=10)
    with pytest.raises(ValueError, match="alpha must be 0"):
        MPPIAgent(10, 2, maxdiff_config("swimmer"), seed=0, device="cpu")
    with pytest.raises(ValueError, match="without NN-MPPI's control-variance"):
        MaxDiffAgent(10, 2, mppi_config("swimmer"), seed=0, device="cpu")


def test_published_rows_of_halfcheetah_and_ant():
    """docs/methods/maxdiff.md §4.2: episodic and single-shot rows; NN-MPPI derives from MaxDiff's."""
    hc = maxdiff_config("half_cheetah")
    p, m = hc.planner, hc.model
    assert (p.horizon, p.samples, p.lam, p.alpha, p.explr_dims, p.explr_weights, p.window) == \
           (10, 500, 0.5, 5.0, (0, 1, 9, 10), (1.0, 1.0, 0.05, 0.05), False)
    assert (m.hidden, m.lr, m.batch_size, m.model_iter, hc.buffer_size) == ((200, 200), 3e-4, 256, 5, 1_000_000)
    assert maxdiff_config("half_cheetah", single_shot=True) == replace(hc, planner=replace(p, samples=1000))
    ant = maxdiff_config("ant")
    p, m = ant.planner, ant.model
    assert (p.horizon, p.samples, p.lam, p.alpha, p.explr_dims, p.explr_weights) == \
           (20, 1000, 0.5, 5.0, (0, 1, 2), (1.0, 1.0, 0.005))
    assert (m.hidden, m.lr, m.batch_size, m.model_iter) == ((512, 512, 512), 3e-4, 256, 5)
    assert maxdiff_config("ant", single_shot=True) == replace(ant, planner=replace(p, alpha=15.0))
    sw = maxdiff_config("swimmer", single_shot=True)
    assert (sw.planner.samples, sw.planner.alpha, sw.planner.window, sw.model.model_iter) == (1000, 50.0, True, 10)
    assert maxdiff_config("ant", samples=250).planner.samples == 250  # overrides win over the row
    for env, single, samples in (("half_cheetah", False, 500), ("half_cheetah", True, 1000), ("ant", False, 1000),
                                 ("ant", True, 1000), ("swimmer", True, 1000)):
        mp = mppi_config(env, single_shot=single)
        md = maxdiff_config(env, single_shot=single)
        assert mp.planner.samples == samples and mp.planner.alpha == 0 and mp.planner.control_variance
        assert mp.planner.explr_dims is None and not mp.planner.window and mp.alpha_schedule == ()
        assert (mp.planner.horizon, mp.planner.lam, mp.model) == (md.planner.horizon, md.planner.lam, md.model)
