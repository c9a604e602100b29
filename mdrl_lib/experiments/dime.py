"""DIME learning curves on a task for which the authors released curves, plus the policy's action samples.

``run(scale)`` trains :class:`~mdrl_lib.agents.dime.DIMEAgent` over seeds (``sweep`` → ``train``) and caches
``data/dime/<scale>.nc``: the loop's evaluation returns and update metrics (``entropy_bound``, ``alpha``,
``c_run``, ...) against ``step``, and at the end of training ``action_samples(probe, sample, action_dim)``:
the policy's actions at a few states of one evaluation rollout (``probe_time`` steps into it).

Task. The authors released curves for gym ``Humanoid-v3`` and ``Ant-v3`` (mujoco-py), DeepMind Control
tasks (through shimmy) and MyoSuite (spec §3.1). Here: gymnasium ``Ant-v5`` against ``gym_ant_v3``, with the
authors' gym critic support ±1600. What differs (gymnasium's Ant changelog): v5 runs on the ``mujoco``
bindings instead of mujoco-py; its observation has 105 entries (v3: 111 — v5 drops the world body's 6
always-zero contact-force entries); v5 pays the healthy reward only while the ant is healthy (v3 on every
step); both include the contact cost (weight 5e-4), but under mujoco-py with MuJoCo >= 2.0 v3's contact
forces read as zeros (openai/gym#1636), so v3's contact observations and cost were likely zero in practice.
Returns are therefore
close but not identical in scale. DeepMind Control (``dm_control`` + ``shimmy``) is not installed; it is
a future optional extra that would allow a like-for-like comparison on e.g. ``dmc_cheetah_run``.

Protocol (spec §4): evaluation every 3,000 steps with 5 *stochastic* episodes (the grid the authors
published is every 8th of these: 24k, 48k, ...); the loop evaluates at step 0 where the authors logged
step 1. Scales: ``smoke`` is tiny networks for CI; ``quick`` (CPU) keeps the published actor and schedule
but uses a **narrow critic** (2 × 256 instead of 2 × 2048; recorded in the Dataset's ``critic`` attribute)
and 24k steps (its replay buffer holds all 24k transitions — what the published 1M buffer holds by then — without
preallocating 1M rows); ``paper`` is the published configuration, 10 seeds × 1M steps (a GPU job).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
import xarray as xr

from mdrl_lib.agents.dime import DIMEAgent, DIMEConfig
from mdrl_lib.envs import make_env
from mdrl_lib.experiments import merge_config
from mdrl_lib.paths import build_dir
from mdrl_lib.results import load_or_run
from mdrl_lib.sweep import run_sweep
from mdrl_lib.train import TrainConfig, train

NAME = "dime"
#: our environment -> the authors' released task it is compared with (references.DIME_TASKS)
REFERENCE_TASK = {"Ant-v5": "gym_ant_v3", "Humanoid-v5": "gym_humanoid_v3"}
PUBLISHED_CRITIC = DIMEConfig().critic_hidden

_SMOKE_AGENT = dict(score_hidden=(32, 32, 32), n_freq=16, time_hidden=16, critic_hidden=(32, 32), batch_size=32,
                    learning_starts=100, buffer_size=10_000, n_steps=8)

#: Per-scale configuration; ``agent`` overrides the published :class:`DIMEConfig` (for the task).
CONFIGS: dict[str, dict[str, Any]] = {
    "smoke": {"env": "Ant-v5", "seeds": [0], "total_steps": 300, "eval_every": 150, "eval_episodes": 1,
              "max_episode_steps": 40, "agent": _SMOKE_AGENT, "probe_times": [0, 20, 39], "n_action_samples": 64,
              "threads": 1},
    "quick": {"env": "Ant-v5", "seeds": [0, 1], "total_steps": 24_000, "eval_every": 3_000, "eval_episodes": 5,
              "max_episode_steps": 1000, "agent": {"critic_hidden": [256, 256], "buffer_size": 24_000},
              "probe_times": [0, 100, 500],
              "n_action_samples": 1000, "threads": 1},
    "paper": {"env": "Ant-v5", "seeds": list(range(10)), "total_steps": 1_000_000, "eval_every": 3_000,
              "eval_episodes": 5, "max_episode_steps": 1000, "agent": {}, "probe_times": [0, 100, 500],
              "n_action_samples": 1000, "threads": None},
}


def agent_config(env: str, overrides: dict[str, Any]) -> DIMEConfig:
    """The published :class:`DIMEConfig` for ``env`` with ``overrides`` (lists become tuples)."""
    fields = set(asdict(DIMEConfig()))
    bad = sorted(set(overrides) - fields)
    if bad:
        raise ValueError(f"unknown DIME config key(s) {bad}; valid: {sorted(fields)}")
    return DIMEConfig.for_env(env, **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})


def critic_label(cfg: DIMEConfig) -> str:
    """``"published critic 2x2048"`` or ``"narrow critic 2x256 (published: 2x2048)"``."""
    shape = "x".join(str(w) for w in ((len(cfg.critic_hidden),) + tuple(cfg.critic_hidden[:1])))
    pub = "x".join(str(w) for w in ((len(PUBLISHED_CRITIC),) + tuple(PUBLISHED_CRITIC[:1])))
    return f"published critic {pub}" if tuple(cfg.critic_hidden) == PUBLISHED_CRITIC else \
        f"narrow critic {shape} (published: {pub})"


def run_one(seed: int, env: str, total_steps: int, eval_every: int, eval_episodes: int, max_episode_steps: int,
            agent: dict[str, Any], probe_times: list[int], n_action_samples: int, threads: int | None,
            checkpoint_root: str | None = None) -> xr.Dataset:
    """One seed: train, then sample the final policy at ``probe_times`` of one evaluation rollout."""
    if threads:
        torch.set_num_threads(threads)

    def make():
        return make_env(env, max_episode_steps=max_episode_steps)

    cfg = agent_config(env, agent)
    probe_env = make()
    dime = DIMEAgent(probe_env.observation_space, probe_env.action_space, cfg, seed=seed)
    # eval_deterministic=True marks evaluation calls; DIME still samples (no deterministic mode), see agents/dime.py
    tcfg = TrainConfig(total_steps=total_steps, eval_every=eval_every, eval_episodes=eval_episodes, seed=seed,
                       eval_deterministic=True)
    ckpt = None if checkpoint_root is None else f"{checkpoint_root}/{env}/seed{seed}"
    ds = train(make, dime, tcfg, checkpoint_dir=ckpt, progress=True, desc=f"DIME {env} seed {seed}")
    ds = ds.drop_dims("episode")
    # the final policy's action distribution at a few states of one rollout
    obs, _ = probe_env.reset(seed=10_000 + seed)
    states = []
    for t in range(max(probe_times) + 1):
        if t in probe_times:
            states.append(obs)
        obs, _, term, trunc, _ = probe_env.step(dime.act(obs, deterministic=True))
        if term or trunc:
            break
    states += [obs] * (len(probe_times) - len(states))  # an episode that ended early repeats its last state
    gen = torch.Generator(device=dime.device).manual_seed(seed)
    samples = dime.sample_actions(np.stack(states), n_action_samples, gen)
    ds["action_samples"] = (("probe", "sample", "action_dim"), samples.astype(np.float32))
    ds["probe_obs"] = (("probe", "obs_dim"), np.stack(states).astype(np.float32))
    ds = ds.assign_coords(probe_time=("probe", np.asarray(probe_times)))
    ds["action_samples"].attrs["long_name"] = "final policy's actions in [-1, 1] (tanh of the chain's end)"
    return ds


class _bound:
    """Picklable partial of :func:`run_one` with everything but the seed fixed."""

    def __init__(self, fixed: dict[str, Any]):
        self.fixed = fixed
        self.__name__ = "run_one"

    def __call__(self, *, seed: int) -> xr.Dataset:
        return run_one(seed, **self.fixed)


def run(scale: str = "quick", *, executor: Any = "process", rerun: bool | None = None, **overrides) -> xr.Dataset:
    """Load ``data/dime/<scale>.nc`` or compute it; ``overrides`` replace config keys."""
    config = merge_config(NAME, CONFIGS, scale, overrides)
    if config["env"] not in REFERENCE_TASK:
        raise ValueError(f"env {config['env']!r} has no released DIME curves to compare with; valid envs are "
                         f"{', '.join(REFERENCE_TASK)}")
    cfg = agent_config(config["env"], config["agent"])

    def compute(c):
        fixed = {k: c[k] for k in ("env", "total_steps", "eval_every", "eval_episodes", "max_episode_steps",
                                   "agent", "probe_times", "n_action_samples", "threads")}
        # quick/paper runs resume from build/checkpoints after a kill; smoke always starts afresh
        fixed["checkpoint_root"] = None if scale == "smoke" else str(build_dir() / "checkpoints" / NAME / scale)
        ds = run_sweep(_bound(fixed), [{}], c["seeds"], executor=executor)
        ds.attrs.update(
            env=c["env"], reference_task=REFERENCE_TASK[c["env"]], critic=critic_label(cfg),
            published_config=int(cfg.is_published), agent_config=json.dumps(asdict(cfg), sort_keys=True),
            evaluation=f"{c['eval_episodes']} stochastic-policy episodes every {c['eval_every']} steps (authors: 5 "
                       "every 3,000, published every 24,000); our step 0 is the authors' step 1",
        )
        return ds

    return load_or_run(NAME, scale, config, compute, rerun=rerun)
