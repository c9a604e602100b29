"""Issue 13 §2: the single-shot training loop, and the swimmer_light / single_shot experiments at smoke scale."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
import xarray as xr

from mdrl_lib.agents.maxdiff import MaxDiffAgent
from mdrl_lib.agents.nn_mppi import MPPIAgent
from mdrl_lib.agents.random_agent import UniformRandomAgent
from mdrl_lib.envs import make_env
from mdrl_lib.experiments import RunContext, get_experiment, jobs_of, run_experiment
from mdrl_lib.planners.mppi import window_length
from mdrl_lib.train import NEW_TRAIN_FIELDS, TrainConfig, config_key, train

single_shot = get_experiment("single_shot")
swimmer_light = get_experiment("swimmer_light")
swimmer_alpha = get_experiment("swimmer_alpha")


class Recorder(gym.Wrapper):
    """Counts resets and keeps every reward and the last qpos (the loop must not reset a single-shot run)."""

    def __init__(self, env):
        super().__init__(env)
        self.resets, self.rewards, self.terminations = 0, [], 0

    def reset(self, **kwargs):
        self.resets += 1
        return self.env.reset(**kwargs)

    def step(self, action):
        out = self.env.step(action)
        self.rewards.append(float(out[1]))
        self.terminations += bool(out[2])
        self.qpos = self.env.unwrapped.data.qpos.copy()
        return out


class FlagAgent(UniformRandomAgent):
    """Keeps the (terminated, truncated) flags the loop passes on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.flags = []

    def observe(self, obs, action, reward, next_obs, terminated, truncated):
        self.flags.append((terminated, truncated))
        super().observe(obs, action, reward, next_obs, terminated, truncated)


def test_single_shot_loop_never_resets_and_logs_one_chunk_sum_per_chunk():
    made = []

    def make():  # Hopper falls (terminates) within a few dozen random steps: the loop must go on regardless
        made.append(Recorder(make_env("Hopper-v5", max_episode_steps=-1)))
        return made[-1]

    cfg = TrainConfig(total_steps=230, eval_every=100, eval_episodes=0, single_shot=True, chunk=50, seed=3)
    agent = FlagAgent(make_env("Hopper-v5").action_space, seed=3)
    ds = train(make, agent, cfg, progress=False)
    env = made[0]
    assert len(made) == 1 and env.resets == 1 and len(env.rewards) == 230  # one env, one reset, no evaluation
    assert env.terminations > 0  # the env said "terminated" ...
    assert not any(t or u for t, u in agent.flags) and len(agent.flags) == 230  # ... and done was ignored
    sums = [sum(env.rewards[i:i + 50]) for i in range(0, 200, 50)]  # in step order; the trailing 30: no chunk
    np.testing.assert_array_equal(ds.episode_return.values, sums)
    np.testing.assert_array_equal(ds.episode_end_step.values, [50, 100, 150, 200])
    np.testing.assert_array_equal(ds.final_qpos.values, env.qpos)
    assert ds.sizes["eval_episode"] == 0 and ds.step.values.tolist() == [0, 100, 200, 230]
    assert ds.train_episodes.values.tolist() == [0, 2, 4, 4]


def test_single_shot_refuses_a_time_limit_shorter_than_the_run_and_bad_configs():
    cfg = TrainConfig(total_steps=1500, eval_every=500, eval_episodes=0, single_shot=True)
    agent = UniformRandomAgent(make_env("mdrl/SwimmerLight-v0").action_space)
    with pytest.raises(ValueError, match=r"has TimeLimit\(1000\); build it with max_episode_steps=-1"):
        train(lambda: make_env("mdrl/SwimmerLight-v0"), agent, cfg, progress=False)
    with pytest.raises(ValueError, match="a single-shot run has no evaluation episodes"):
        TrainConfig(total_steps=10, eval_every=5, single_shot=True)
    with pytest.raises(ValueError, match="chunk applies to single-shot runs only"):
        TrainConfig(total_steps=10, eval_every=5, chunk=5)
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        TrainConfig(total_steps=10, eval_every=5, eval_episodes=0, single_shot=True, chunk=0)


def test_new_train_fields_stay_out_of_the_key_at_their_default():
    """Adding single_shot/chunk to TrainConfig must not change any stored run's cache key."""
    plain = TrainConfig(total_steps=10, eval_every=5)
    assert config_key(plain) == {k: v for k, v in dataclasses.asdict(plain).items() if k not in NEW_TRAIN_FIELDS}
    ss = TrainConfig(total_steps=10, eval_every=5, eval_episodes=0, single_shot=True, chunk=5)
    assert config_key(ss)["single_shot"] is True and config_key(ss)["chunk"] == 5
    assert "chunk" not in config_key(dataclasses.replace(ss, chunk=1000))
    run = swimmer_alpha.resolve({"algo": "SAC", "alpha": 0.0}, swimmer_alpha.SIZES["quick"])
    assert not set(NEW_TRAIN_FIELDS) & set(run.key()["train"])
    ds_cfg = train(lambda: make_env("mdrl/SwimmerLight-v0", max_episode_steps=20),
                   UniformRandomAgent(make_env("mdrl/SwimmerLight-v0").action_space), plain, progress=False)
    assert "single_shot" not in ds_cfg.attrs["train_config"]


CASES = [(single_shot.SWIMMER, "MaxDiff"), (single_shot.CHEETAH, "NN-MPPI"), (single_shot.CHEETAH, "SAC")]


@pytest.mark.parametrize(("env", "algo"), CASES)
def test_single_shot_run_resumes_bit_identically(env, algo, tmp_path, crash_run_env):
    """Interrupted after its checkpoint at step 30 and resumed with a fresh agent: the same Dataset."""
    from conftest import EnvCrash

    cfg = {**single_shot.SIZES["smoke"], "total_steps": 60, "checkpoint_every": 30}
    run = single_shot.resolve({"env": env, "algo": algo}, cfg)
    reference = single_shot.run_one(run, 5, RunContext())
    ckpt = RunContext(checkpoint_dir=tmp_path)
    restore = crash_run_env(40)  # the step after step 40 raises: the checkpoint of step 30 is the last one
    with pytest.raises(EnvCrash):
        single_shot.run_one(run, 5, ckpt)
    restore()
    assert torch.load(tmp_path / "last.pt", weights_only=False)["step"] == 30
    resumed = single_shot.run_one(run, 5, ckpt)
    xr.testing.assert_identical(resumed, reference)
    assert resumed.sizes["chunk_step"] == 3 and np.isfinite(resumed.final_x)


def test_single_shot_settings_are_the_published_single_shot_rows():
    q = single_shot.SIZES["quick"]
    md = single_shot.resolve({"env": single_shot.SWIMMER, "algo": "MaxDiff"}, q)
    p = md.agent.planner
    assert (p.horizon, p.samples, p.lam, p.alpha, p.window, p.explr_dims) == (40, 1000, 0.1, 50.0, True, (0, 1, 5, 6))
    assert window_length(p.horizon, len(p.explr_dims)) == (10, 3)
    assert (md.agent.model.model_iter, md.agent.model.batch_size) == (10, 128)
    assert md.max_episode_steps == -1 and md.env_kwargs == {"inertia": "cylinder"}
    assert md.train.single_shot and md.train.chunk == 1000 and md.train.eval_episodes == 0
    mp = single_shot.resolve({"env": single_shot.SWIMMER, "algo": "NN-MPPI"}, q).agent
    assert mp.planner.alpha == 0 and mp.planner.control_variance and mp.planner.samples == 1000
    assert mp.model.model_iter == 10
    hc = single_shot.resolve({"env": single_shot.CHEETAH, "algo": "MaxDiff"}, q)
    p = hc.agent.planner
    assert (p.horizon, p.samples, p.lam, p.alpha, p.window) == (10, 1000, 0.5, 5.0, False)
    assert p.explr_dims == (0, 1, 9, 10) and p.explr_weights == (1.0, 1.0, 0.05, 0.05)
    assert (hc.agent.model.hidden, hc.agent.model.model_iter, hc.agent.model.batch_size) == ((200, 200), 5, 256)
    assert hc.extra["clip_actions"] and hc.env_kwargs == {"exclude_current_positions_from_observation": False}
    hm = single_shot.resolve({"env": single_shot.CHEETAH, "algo": "NN-MPPI"}, q).agent
    assert hm.planner.alpha == 0 and hm.planner.control_variance and hm.planner.explr_dims is None
    sac = single_shot.resolve({"env": single_shot.CHEETAH, "algo": "SAC"}, q).agent
    assert (sac.hidden, sac.batch_size, sac.reward_scale, sac.variant) == ((256, 256), 256, 5.0, "v1")
    agent = MPPIAgent(18, 6, hm, seed=0)  # the configs build the agents the runs use
    assert MaxDiffAgent(18, 6, hc.agent, seed=0).planner.config.alpha == 5.0 and agent.planner.alpha == 0
    env = single_shot.make_run_env(hc)
    assert env.observation_space.shape == (18,) and env.action_space == make_env("HalfCheetah-v5").action_space
    env.reset(seed=0)
    assert np.array_equal(env.action(np.array([3.0, -3, 0.5, 0, 0, 0])), [1.0, -1, 0.5, 0, 0, 0])
    assert len(jobs_of("single_shot", q)[0]) == 3 * len(q["envs"]) * len(q["seeds"])  # the part trained so far
    assert len(jobs_of("single_shot", dict(q, **single_shot.QUICK_TARGET))[0]) == 30
    assert len(jobs_of("swimmer_light", swimmer_light.SIZES["quick"])[0]) == 30


def test_swimmer_light_heavy_runs_are_swimmer_alpha_runs():
    """A heavy-tail run here trains exactly as swimmer_alpha's (same agent, env, schedule but its evaluations)."""
    for scale in ("smoke", "paper"):
        light_cfg, alpha_cfg = swimmer_light.SIZES[scale], swimmer_alpha.SIZES[scale]
        for algo, alpha in (("MaxDiff", 100.0), ("NN-MPPI", 0.0), ("SAC", 0.0)):
            ours = swimmer_light.resolve({"algo": algo, "alpha": alpha, "train_body": "heavy"}, light_cfg)
            theirs = swimmer_alpha.resolve({"algo": algo, "alpha": alpha}, alpha_cfg)
            assert (ours.env, ours.agent, ours.env_kwargs, ours.max_episode_steps) == \
                   (theirs.env, theirs.agent, theirs.env_kwargs, theirs.max_episode_steps)
            keep = ("total_steps", "checkpoint_every", "learning_starts", "single_shot")
            assert all(getattr(ours.train, k) == getattr(theirs.train, k) for k in keep)
            assert ours.train.eval_episodes == 0 and ours.extra["eval_deterministic"] == (algo != "SAC")
    light = swimmer_light.resolve({"algo": "MaxDiff", "alpha": 100.0, "train_body": "light"},
                                  swimmer_light.SIZES["quick"])
    assert light.env == "mdrl/SwimmerLight-v0" and light.env_kwargs == {"inertia": "cylinder"}


def test_swimmer_light_smoke(isolated):
    cfg = swimmer_light.SIZES["smoke"]
    ds = run_experiment("swimmer_light", "smoke", verbose=False)
    assert dict(ds.sizes) == {"algo": 3, "alpha": 2, "train_body": 2, "seed": 1, "curve_step": 4, "eval_body": 2,
                              "eval_episode": 1}
    assert ds.alpha.values.tolist() == [0.0, 100.0] and ds.eval_body.values.tolist() == ["heavy", "light"]
    for algo, alpha in (("MaxDiff", 100.0), ("NN-MPPI", 0.0), ("SAC", 0.0)):
        run = ds.sel(algo=algo, alpha=alpha)
        assert np.isfinite(run.eval_return).all() and (run.eval_length == cfg["max_episode_steps"]).all()
        assert np.isfinite(run.best_return.isel(curve_step=-1)).all()
    # the same reset seeds on both bodies, yet different physics: the returns differ
    md = ds.sel(algo="MaxDiff", alpha=100.0, train_body="light")
    assert md.eval_return.sel(eval_body="heavy").item() != md.eval_return.sel(eval_body="light").item()
    table = swimmer_light.transfer_table(ds)
    assert set(table.data_vars) == {"mean", "std", "seed_std"} and "eval_body" in table.dims


def test_single_shot_smoke(isolated):
    ds = run_experiment("single_shot", "smoke", verbose=False)
    assert dict(ds.sizes) == {"env": 2, "algo": 3, "seed": 1, "chunk_step": 3}
    assert ds.chunk_step.values.tolist() == [20, 40, 60]
    assert set(ds.data_vars) == {"chunk_return", "best_return", "final_x", "run_wall_time_s"}
    np.testing.assert_array_equal(ds.best_return.values, np.maximum.accumulate(ds.chunk_return.values, axis=-1))
    assert np.isfinite(ds.final_x).all() and (ds.final_x != 0).all()


def test_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match=r"unknown Swimmer body\(ies\) \['medium'\] in train_bodies/eval_bodies; "
                                         r"valid bodies are heavy, light"):
        run_experiment("swimmer_light", "smoke", overrides={"train_bodies": ["medium"]})
    with pytest.raises(ValueError, match="eval_episodes .* must be >= 1"):
        run_experiment("swimmer_light", "smoke", overrides={"eval_episodes": 0})
    with pytest.raises(ValueError, match=r"unknown environment\(s\) \['Ant-v5'\]"):
        run_experiment("single_shot", "smoke", overrides={"envs": ["Ant-v5"]})
    with pytest.raises(ValueError, match="total_steps 10 must be >= chunk 20"):
        run_experiment("single_shot", "smoke", overrides={"total_steps": 10})
    with pytest.raises(ValueError, match=r"total_steps has no entry for environment\(s\) \['HalfCheetah-v5'\]"):
        run_experiment("single_shot", "smoke", overrides={"total_steps": {"mdrl/SwimmerLight-v0": 40}})
    with pytest.raises(ValueError, match="unknown config key"):
        run_experiment("single_shot", "smoke", overrides={"steps": 5})


def test_single_shot_scorecard_rows_read_the_released_runs_at_each_envs_step():
    import json

    from mdrl_lib import references, scorecard

    swimmer, cheetah = single_shot.SWIMMER, single_shot.CHEETAH
    steps = {swimmer: 8_000, cheetah: 12_000}  # different budgets: chunk_step is their union, Swimmer NaN past 8 k
    released = {swimmer: {"env": "swimmer", "body": "light", "alpha": 50}, cheetah: {"env": "half_cheetah", "alpha": 5}}
    algos, seeds = list(single_shot.ALGOS), [0, 1, 2]
    pub = {(e, a): references.published_curve(references.published_folder(a, singleshot=True, **released[e]))
           .sel(step=steps[e]).values for e in steps for a in algos}
    for e in steps:  # the published order at our steps: MaxDiff first, as in the paper's claim at 1 M
        assert np.mean(pub[e, "MaxDiff"]) > max(np.mean(pub[e, "NN-MPPI"]), np.mean(pub[e, "SAC"]))

    def fake(values):  # (env, algo) -> 3 seed values of the running max at that env's budget
        best = np.full((2, len(algos), len(seeds), 2), np.nan)  # (env, algo, seed, chunk_step)
        for i, e in enumerate(steps):
            for j, a in enumerate(algos):
                best[i, j, :, [8_000, 12_000].index(steps[e])] = values[e, a]
        return xr.Dataset({"best_return": (("env", "algo", "seed", "chunk_step"), best)},
                          coords={"env": list(steps), "algo": algos, "seed": seeds, "chunk_step": [8_000, 12_000]},
                          attrs={"config": json.dumps({"total_steps": steps, "chunk": 1000})})

    medians = {k: [float(np.median(v))] * 3 for k, v in pub.items()}
    rows = scorecard.single_shot_rows(fake(medians))
    assert [r.rule for r in rows] == (["range"] * 3 + ["best"]) * 2
    assert [r.figure for r in rows] == ["13 · single-shot light Swimmer"] * 4 + ["13 · single-shot HalfCheetah"] * 4
    assert all(r.verdict == "inside" for r in rows[:3] + rows[4:7])
    assert "8,000 steps" in rows[0].claim and "12,000 steps" in rows[4].claim and "read at" not in rows[0].claim
    assert rows[3].verdict == rows[7].verdict == "reproduced" and "MaxDiff best" in rows[3].claim
    # NN-MPPI first in ours on the Swimmer, far above the published seeds: outside, and the MaxDiff-best rule fails
    flipped = {**medians, (swimmer, "NN-MPPI"): [float(pub[swimmer, "MaxDiff"].max()) + 100.0] * 3}
    rows = scorecard.single_shot_rows(fake(flipped))
    assert rows[1].verdict == "outside" and rows[3].verdict == "not reproduced"
    assert rows[7].verdict == "reproduced"  # HalfCheetah untouched
    assert scorecard.ROWS["single_shot"] is scorecard.single_shot_rows


def test_swimmer_alpha_quick_target_is_the_authors_physics_with_five_seeds():
    from mdrl_lib.experiments import experiment_config
    from mdrl_lib.experiments.point_mass import PAPER_SEEDS

    target = experiment_config("swimmer_alpha", "quick", swimmer_alpha.QUICK_TARGET)
    assert target["inertia"] == "cylinder" and target["seeds"] == PAPER_SEEDS[:5]
    jobs, runs = jobs_of("swimmer_alpha", target)
    assert len(jobs) == 15 and all(run.env_kwargs["inertia"] == "cylinder" for run in runs.values())


def test_single_shot_quick_target_is_both_envs_with_five_seeds():
    from mdrl_lib.experiments import experiment_config
    from mdrl_lib.experiments.point_mass import PAPER_SEEDS

    target = experiment_config("single_shot", "quick", single_shot.QUICK_TARGET)
    assert target["envs"] == [single_shot.SWIMMER, single_shot.CHEETAH] and target["seeds"] == PAPER_SEEDS[:5]
    assert len(jobs_of("single_shot", target)[0]) == 30  # test_experiments.py checks its runs keep their keys
