"""DIME learning curves on a task for which the authors released curves, plus the policy's action samples.

Each run trains :class:`~mdrl_lib.agents.dime.DIMEAgent` for one seed; ``data/dime/<scale>.nc`` holds the loop's
evaluation returns and update metrics (``entropy_bound``, ``alpha``, ``c_run``, ...) against ``step``, and at the
end of training ``action_samples(probe, sample, action_dim)``: the policy's actions at a few states of one
evaluation rollout (``probe_time`` steps into it).

Task. The authors released curves for gym ``Humanoid-v3`` and ``Ant-v3`` (mujoco-py), DeepMind Control
tasks (through shimmy) and MyoSuite (docs/methods/dime.md §3.1). Here: gymnasium ``Ant-v5`` against
``gym_ant_v3``, with the
authors' gym critic support ±1600. What differs (gymnasium's Ant changelog): v5 runs on the ``mujoco``
bindings instead of mujoco-py; its observation has 105 entries (v3: 111 — v5 drops the world body's 6
always-zero contact-force entries); v5 pays the healthy reward only while the ant is healthy (v3 on every
step); both include the contact cost (weight 5e-4), but under mujoco-py with MuJoCo >= 2.0 v3's contact
forces read as zeros (openai/gym#1636), so v3's contact observations and cost were likely zero in practice.
Returns are therefore
close but not identical in scale. DeepMind Control tasks, which have not changed since the authors' runs, are
available as ``mdrl/dmc-<domain>-<task>-v0`` (:mod:`mdrl_lib.envs.dmc`); DIME and SAC on them are
:mod:`mdrl_lib.experiments.dime_dmc`.

Protocol (docs/methods/dime.md §1.4, §4): evaluation every 3,000 steps with 5 *stochastic* episodes (the grid
the authors published is every 8th of these: 24k, 48k, ...); the loop evaluates at step 0 where the authors logged
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

from mdrl_lib.agents import make_agent
from mdrl_lib.agents.dime import DIMEConfig
from mdrl_lib.experiments import Run, RunContext
from mdrl_lib.train import TrainConfig

NAME = "dime"
#: our environment -> the authors' released task it is compared with (references.DIME_TASKS)
REFERENCE_TASK = {"Ant-v5": "gym_ant_v3", "Humanoid-v5": "gym_humanoid_v3"}
PUBLISHED_CRITIC = DIMEConfig().critic_hidden

SMOKE_AGENT = dict(score_hidden=(32, 32, 32), n_freq=16, time_hidden=16, critic_hidden=(32, 32), batch_size=32,
                   learning_starts=100, buffer_size=10_000, n_steps=8)

#: Per-scale configuration; ``agent`` overrides the published :class:`DIMEConfig` (for the task).
#: quick: 2 seeds x 24k steps side by side, about an hour on 2 cores with the narrow critic.
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"env": "Ant-v5", "seeds": [0], "total_steps": 300, "eval_every": 150, "eval_episodes": 1,
              "max_episode_steps": 40, "agent": SMOKE_AGENT, "probe_times": [0, 20, 39], "n_action_samples": 64},
    "quick": {"env": "Ant-v5", "seeds": [0, 1], "total_steps": 24_000, "eval_every": 3_000, "eval_episodes": 5,
              "max_episode_steps": 1000, "agent": {"critic_hidden": [256, 256], "buffer_size": 24_000},
              "probe_times": [0, 100, 500], "n_action_samples": 1000},
    "paper": {"env": "Ant-v5", "seeds": list(range(10)), "total_steps": 1_000_000, "eval_every": 3_000,
              "eval_episodes": 5, "max_episode_steps": 1000, "agent": {}, "probe_times": [0, 100, 500],
              "n_action_samples": 1000},
}


def critic_label(cfg: DIMEConfig) -> str:
    """``"published critic 2x2048"`` or ``"narrow critic 2x256 (published: 2x2048)"``."""
    shape = "x".join(str(w) for w in ((len(cfg.critic_hidden),) + tuple(cfg.critic_hidden[:1])))
    pub = "x".join(str(w) for w in ((len(PUBLISHED_CRITIC),) + tuple(PUBLISHED_CRITIC[:1])))
    return f"published critic {pub}" if tuple(cfg.critic_hidden) == PUBLISHED_CRITIC else \
        f"narrow critic {shape} (published: {pub})"


def grid(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{}]  # one setting: the runs differ only by seed


def resolve(setting: dict[str, Any], cfg: dict[str, Any]) -> Run:
    """The published :class:`DIMEConfig` for the task with ``cfg["agent"]`` overrides; the authors' evaluation
    schedule (``eval_deterministic=True`` only marks evaluation calls: DIME's actor always samples)."""
    schedule = TrainConfig(total_steps=cfg["total_steps"], eval_every=cfg["eval_every"],
                           eval_episodes=cfg["eval_episodes"], eval_deterministic=True)
    return Run.of("DIME", cfg["env"], schedule, max_episode_steps=cfg["max_episode_steps"],
                  extra={"probe_times": cfg["probe_times"], "n_action_samples": cfg["n_action_samples"]},
                  **cfg["agent"])


def validate(cfg: dict[str, Any]) -> None:
    if cfg["env"] not in REFERENCE_TASK:
        raise ValueError(f"env {cfg['env']!r} has no released DIME curves to compare with; valid envs are "
                         f"{', '.join(REFERENCE_TASK)}")


def run_one(run: Run, seed: int, ctx: RunContext) -> xr.Dataset:
    """One seed: train, then sample the final policy at ``probe_times`` of one evaluation rollout."""
    probe_env = run.make_env()
    dime, _ = make_agent("DIME", probe_env, seed=seed, config=run.agent)
    ds = ctx.train(run, dime, seed).drop_dims("episode")
    # the final policy's action distribution at a few states of one rollout
    probe_times = list(run.extra["probe_times"])
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
    samples = dime.sample_actions(np.stack(states), run.extra["n_action_samples"], gen)
    ds["action_samples"] = (("probe", "sample", "action_dim"), samples.astype(np.float32))
    ds["probe_obs"] = (("probe", "obs_dim"), np.stack(states).astype(np.float32))
    ds = ds.assign_coords(probe_time=("probe", np.asarray(probe_times)))
    ds["action_samples"].attrs["long_name"] = "final policy's actions in [-1, 1] (tanh of the chain's end)"
    return ds


def finish(ds: xr.Dataset, cfg: dict[str, Any]) -> xr.Dataset:
    """The comparison's labels: task, the released task it is drawn against, critic width, evaluation protocol."""
    agent = resolve({}, cfg).agent
    ds.attrs.update(
        env=cfg["env"], reference_task=REFERENCE_TASK[cfg["env"]], critic=critic_label(agent),
        published_config=int(agent.is_published), agent_config=json.dumps(asdict(agent), sort_keys=True),
        evaluation=f"{cfg['eval_episodes']} stochastic-policy episodes every {cfg['eval_every']} steps (authors: 5 "
                   "every 3,000, published every 24,000); our step 0 is the authors' step 1",
    )
    return ds
