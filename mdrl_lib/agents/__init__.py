"""One module per algorithm (every agent follows :class:`mdrl_lib.train.Agent`), and one factory for all of them.

:func:`make_agent` builds any agent by name for an environment and returns it with its **fully resolved
config** — the frozen dataclass holding every hyperparameter the agent uses (for the model-based agents: the
planner, the model and the α schedule too). :func:`agent_config` resolves the config without building the
agent. The experiments key their cached results on these resolved configs, so changing a default inside any
config dataclass re-runs the experiments it affects.

Resolution: the algorithm's settings for the environment (its *preset*), then ``overrides`` — a nested mapping
of dataclass fields, e.g. ``make_agent("DiffSAC", env, seed=0, sac={"hidden": (128, 128)},
diffusion={"n_steps": 4})``. Lists become tuples; an unknown field is one ``ValueError`` naming the valid ones.

Presets (where each algorithm's defaults come from is documented on its config class):

==========  ==========================================================================================
``default`` every algorithm: its config class's defaults; DIME's critic support and the MaxDiff/NN-MPPI
            planner settings depend on the environment (``DIMEConfig.for_env``, ``maxdiff_config``)
``maxdiff`` SAC only: the MaxDiff paper's SAC v1 for the environment (``SACConfig.maxdiff``)
==========  ==========================================================================================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from mdrl_lib.utils import replace_fields

#: every algorithm :func:`make_agent` builds
ALGOS = ("SAC", "WPO", "PPO", "DiffSAC", "DiffPPO", "DiffWPO", "DIME", "MaxDiff", "NN-MPPI", "Random")
PRESETS = {"default": ALGOS, "maxdiff": ("SAC",)}


@dataclass(frozen=True)
class RandomConfig:
    """The uniform-random agent has no hyperparameters."""


#: (id substring, maxdiff_config name, observation size with the root position kept) of the environments with
#: published MaxDiff/NN-MPPI settings (docs/methods/maxdiff.md §3, §4.2): their exploration dims index that layout
_MODEL_BASED_ENVS = (("PointMass", "point_mass", 4), ("Swimmer", "swimmer", 10), ("HalfCheetah", "half_cheetah", 18),
                     ("Ant", "ant", 29))


def _model_based_env(env: gym.Env) -> tuple[str, float | None]:
    """``(name, beta)`` of an environment with published MaxDiff settings (``maxdiff_config``)."""
    env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    match = next(((name, size) for key, name, size in _MODEL_BASED_ENVS if key in env_id), None)
    if match is None:
        raise ValueError(f"no published MaxDiff/NN-MPPI settings for environment {env_id!r}; valid: "
                         "mdrl/PointMass-v0, mdrl/SwimmerHeavy-v0, mdrl/SwimmerLight-v0, HalfCheetah-v5 (with "
                         "exclude_current_positions_from_observation=False), mdrl/AntMaxDiff-v0")
    name, size = match
    if env.observation_space.shape != (size,):
        raise ValueError(f"the published {name} settings need the {size}-number observation with the root position "
                         f"kept (docs/methods/maxdiff.md §3); {env_id!r} observes {env.observation_space.shape} "
                         "(HalfCheetah-v5: exclude_current_positions_from_observation=False; Ant: mdrl/AntMaxDiff-v0)")
    return name, float(env.unwrapped.beta) if name == "point_mass" else None


def _preset(name: str, env: gym.Env, preset: str):
    env_id = env.spec.id if env.spec is not None else ""
    if name == "SAC":
        from mdrl_lib.agents.sac import SACConfig

        return SACConfig.maxdiff(env_id) if preset == "maxdiff" else SACConfig()
    if name == "WPO":
        from mdrl_lib.agents.wpo import WPOConfig

        return WPOConfig()
    if name == "PPO":
        from mdrl_lib.agents.ppo import PPOConfig

        return PPOConfig()
    if name == "DiffSAC":
        from mdrl_lib.agents.diff_sac import DiffSACConfig

        return DiffSACConfig()
    if name == "DiffWPO":
        from mdrl_lib.agents.diff_wpo import DiffWPOConfig

        return DiffWPOConfig()
    if name == "DiffPPO":
        from mdrl_lib.agents.diff_ppo import DiffPPOConfig

        return DiffPPOConfig()
    if name == "DIME":
        from mdrl_lib.agents.dime import DIMEConfig

        return DIMEConfig.for_env(env_id)
    if name in ("MaxDiff", "NN-MPPI"):
        from mdrl_lib.agents.maxdiff import maxdiff_config
        from mdrl_lib.agents.nn_mppi import mppi_config

        env_name, beta = _model_based_env(env)
        return (maxdiff_config if name == "MaxDiff" else mppi_config)(env_name, beta=beta)
    return RandomConfig()


def agent_config(name: str, env: gym.Env, *, preset: str = "default", **overrides: Any):
    """The resolved config dataclass of agent ``name`` on ``env``: its ``preset`` with ``overrides`` applied.

    ``env`` is the environment the agent will act in (its id and, for the point mass, its ``beta`` choose the
    published per-environment settings). Raises one ``ValueError`` for an unknown algorithm, preset or field.
    """
    if name not in ALGOS:
        raise ValueError(f"unknown algorithm {name!r}; valid algorithms are {', '.join(ALGOS)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid presets are {', '.join(PRESETS)}")
    if name not in PRESETS[preset]:
        raise ValueError(f"preset {preset!r} is not defined for {name}; it is for {', '.join(PRESETS[preset])}")
    return replace_fields(_preset(name, env, preset), overrides, where=f"{name} config")


def make_agent(name: str, env: gym.Env, *, seed: int, config: Any = None, device: str | None = None,
               preset: str = "default", **overrides: Any):
    """Build agent ``name`` for ``env``; returns ``(agent, config)`` with the fully resolved config dataclass.

    ``config``: an already resolved config (e.g. from :func:`agent_config`, as the experiments do) — then
    ``preset`` and ``overrides`` must not be given. ``device``: torch device (default
    :func:`mdrl_lib.utils.get_device`).
    """
    if config is None:
        config = agent_config(name, env, preset=preset, **overrides)
    elif overrides or preset != "default":
        raise ValueError("give either a resolved config= or preset/overrides, not both")
    expected = type(_preset(name, env, "default")) if name in ALGOS else None
    if expected is None:
        raise ValueError(f"unknown algorithm {name!r}; valid algorithms are {', '.join(ALGOS)}")
    if not isinstance(config, expected):
        raise ValueError(f"{name} needs a {expected.__name__}, got {type(config).__name__}")
    obs, act = env.observation_space, env.action_space
    if name == "Random":
        from mdrl_lib.agents.random_agent import UniformRandomAgent

        return UniformRandomAgent(act, seed=seed), config
    if name in ("MaxDiff", "NN-MPPI"):
        from mdrl_lib.agents.maxdiff import MaxDiffAgent
        from mdrl_lib.agents.nn_mppi import MPPIAgent

        cls = MaxDiffAgent if name == "MaxDiff" else MPPIAgent
        return cls(obs.shape[0], act.shape[0], config, seed=seed, device=device), config
    cls = _agent_class(name)
    return cls(obs, act, config, seed=seed, device=device), config


def _agent_class(name: str):
    from mdrl_lib.agents.diff_ppo import DiffPPOAgent
    from mdrl_lib.agents.diff_sac import DiffSACAgent
    from mdrl_lib.agents.diff_wpo import DiffWPOAgent
    from mdrl_lib.agents.dime import DIMEAgent
    from mdrl_lib.agents.ppo import PPOAgent
    from mdrl_lib.agents.sac import SACAgent
    from mdrl_lib.agents.wpo import WPOAgent

    return {"SAC": SACAgent, "WPO": WPOAgent, "PPO": PPOAgent, "DiffSAC": DiffSACAgent, "DiffPPO": DiffPPOAgent,
            "DiffWPO": DiffWPOAgent, "DIME": DIMEAgent}[name]


def config_dict(config: Any) -> dict[str, Any]:
    """A resolved config as a plain dict (``{}`` for :class:`RandomConfig`), with its class name."""
    out = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})
    return {"type": type(config).__name__, **out}


__all__ = ["ALGOS", "PRESETS", "RandomConfig", "agent_config", "config_dict", "make_agent"]
