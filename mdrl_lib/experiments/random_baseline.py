"""Returns of the uniform-random policy on the MuJoCo tasks the papers use.

This is the 'random' reference of score normalisation (``stats.normalize_scores``: 0 = random,
1 = published) and the smallest end-to-end use of the pipeline: ``sweep`` runs ``train`` with
:class:`~mdrl_lib.agents.random_agent.UniformRandomAgent` over environments × seeds, ``results`` caches
the combined Dataset in ``data/random_baseline/<scale>.nc``.
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from mdrl_lib.agents.random_agent import UniformRandomAgent
from mdrl_lib.envs import make_env
from mdrl_lib.experiments import merge_config
from mdrl_lib.results import load_or_run
from mdrl_lib.sweep import run_sweep
from mdrl_lib.train import TrainConfig, train

NAME = "random_baseline"
ENVS = ("Swimmer-v5", "HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5")

#: Per-scale configuration. A random policy does not learn, so "steps" only sets how many evaluation
#: points (each ``eval_episodes`` full episodes) are averaged.
CONFIGS: dict[str, dict[str, Any]] = {
    "smoke": {"envs": ["Swimmer-v5", "Hopper-v5"], "seeds": [0, 1], "total_steps": 200, "eval_every": 100,
              "eval_episodes": 1, "max_episode_steps": 100},
    "quick": {"envs": list(ENVS), "seeds": [0, 1, 2, 3, 4], "total_steps": 2000, "eval_every": 1000,
              "eval_episodes": 5, "max_episode_steps": 1000},
    "paper": {"envs": list(ENVS), "seeds": list(range(10)), "total_steps": 10000, "eval_every": 1000,
              "eval_episodes": 10, "max_episode_steps": 1000},
}


def run_one(seed: int, env: str, total_steps: int, eval_every: int, eval_episodes: int,
            max_episode_steps: int) -> xr.Dataset:
    """One seed on one environment (module level so worker processes can import it)."""

    def make():
        return make_env(env, max_episode_steps=max_episode_steps)

    agent = UniformRandomAgent(make().action_space, seed=seed)
    cfg = TrainConfig(total_steps=total_steps, eval_every=eval_every, eval_episodes=eval_episodes, seed=seed,
                      eval_deterministic=False)
    return train(make, agent, cfg, progress=False).drop_dims("episode")


def run(scale: str = "quick", *, executor: Any = "process", rerun: bool | None = None, **overrides
        ) -> xr.Dataset:
    """Load ``data/random_baseline/<scale>.nc`` or compute it; ``overrides`` replace config keys."""
    config = merge_config(NAME, CONFIGS, scale, overrides)

    def compute(cfg):
        fixed = {k: cfg[k] for k in ("total_steps", "eval_every", "eval_episodes", "max_episode_steps")}
        ds = run_sweep(_bound(fixed), {"env": cfg["envs"]}, cfg["seeds"], executor=executor)
        return ds

    return load_or_run(NAME, scale, config, compute, rerun=rerun)


class _bound:
    """Picklable partial of :func:`run_one` with the schedule fixed."""

    def __init__(self, fixed: dict[str, Any]):
        self.fixed = fixed
        self.__name__ = "run_one"

    def __call__(self, *, seed: int, env: str) -> xr.Dataset:
        return run_one(seed, env, **self.fixed)
