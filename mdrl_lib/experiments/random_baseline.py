"""Returns of the uniform-random policy on the MuJoCo tasks the papers use.

This is the 'random' reference of score normalisation (``stats.normalize_scores``: 0 = random,
1 = published) and the smallest experiment: ``run_one`` trains :class:`~mdrl_lib.agents.random_agent.UniformRandomAgent`
(it does not learn, so "training" only produces evaluation points) on one environment.
Result: ``data/random_baseline/<scale>.nc`` with dimensions ``(env, seed, step, eval_episode)``.
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from mdrl_lib.agents import make_agent
from mdrl_lib.experiments import Run, RunContext
from mdrl_lib.train import TrainConfig

NAME = "random_baseline"
ENVS = ("Swimmer-v5", "HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5")

#: A random policy does not learn, so "steps" only sets how many evaluation points (each ``eval_episodes``
#: full episodes) are averaged. quick: 5 envs x 5 seeds x 3 points x 5 episodes, about a minute on 2 cores.
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"envs": ["Swimmer-v5", "Hopper-v5"], "seeds": [0, 1], "total_steps": 200, "eval_every": 100,
              "eval_episodes": 1, "max_episode_steps": 100},
    "quick": {"envs": list(ENVS), "seeds": [0, 1, 2, 3, 4], "total_steps": 2000, "eval_every": 1000,
              "eval_episodes": 5, "max_episode_steps": 1000},
    "paper": {"envs": list(ENVS), "seeds": list(range(10)), "total_steps": 10000, "eval_every": 1000,
              "eval_episodes": 10, "max_episode_steps": 1000},
}


def grid(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"env": env} for env in cfg["envs"]]


def resolve(setting: dict[str, Any], cfg: dict[str, Any]) -> Run:
    schedule = TrainConfig(total_steps=cfg["total_steps"], eval_every=cfg["eval_every"],
                           eval_episodes=cfg["eval_episodes"], eval_deterministic=False)
    return Run.of("Random", setting["env"], schedule, max_episode_steps=cfg["max_episode_steps"])


def run_one(run: Run, seed: int, ctx: RunContext) -> xr.Dataset:
    agent, _ = make_agent(run.algo, run.make_env(), seed=seed, config=run.agent)
    return ctx.train(run, agent, seed).drop_dims("episode")
