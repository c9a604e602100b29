"""Registers the ``mdrl/`` gymnasium ids (environments are added here as they land)."""

from gymnasium.envs.registration import register, registry


def _register(env_id: str, entry_point: str, **kwargs) -> None:
    if env_id not in registry:
        register(id=env_id, entry_point=entry_point, **kwargs)


# MaxDiff RL (docs/methods/maxdiff.md §3): point mass with coupling beta; Swimmer with heavy (stock) / light tail.
_register("mdrl/PointMass-v0", "mdrl_lib.envs.point_mass:PointMassEnv", max_episode_steps=1000)
_register("mdrl/SwimmerHeavy-v0", "mdrl_lib.envs.swimmer:SwimmerEnv", max_episode_steps=1000,
          kwargs={"tail_density": 1000.0})
_register("mdrl/SwimmerLight-v0", "mdrl_lib.envs.swimmer:SwimmerEnv", max_episode_steps=1000,
          kwargs={"tail_density": 100.0})
# The authors' Ant ("AntEnv_v3", §3): gymnasium Ant-v5, qpos+qvel observed, x-velocity reward, upside-down termination.
_register("mdrl/AntMaxDiff-v0", "mdrl_lib.envs.ant:AntMaxDiffEnv", max_episode_steps=1000)

# Diffusion MaxEnt RL (docs/methods/diffmaxent.md §4.2): one-step task with a known multimodal Boltzmann policy.
_register("mdrl/MultimodalBandit-v0", "mdrl_lib.envs.bandit:MultimodalBanditEnv")

# DIME (docs/methods/dime.md §3.1): the DeepMind Control tasks of its published results, through dm_control +
# shimmy, with flat float32 observations, actions in [-1, 1], no action repeat and 1000-step episodes
# (mdrl_lib/envs/dmc.py; dm_control is imported only when one is made).
from mdrl_lib.envs.dmc import DIME_TASKS, EPISODE_STEPS, dmc_env_id  # noqa: E402  (imports no dm_control)

for _domain, _task in DIME_TASKS:
    _register(dmc_env_id(_domain, _task), "mdrl_lib.envs.dmc:make_dmc", max_episode_steps=EPISODE_STEPS,
              kwargs={"domain": _domain, "task": _task})
