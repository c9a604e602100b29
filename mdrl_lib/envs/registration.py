"""Registers the ``mdrl/`` gymnasium ids (environments are added here as they land)."""

from gymnasium.envs.registration import register, registry


def _register(env_id: str, entry_point: str, **kwargs) -> None:
    if env_id not in registry:
        register(id=env_id, entry_point=entry_point, **kwargs)


# Diffusion MaxEnt RL (spec diffmaxent.md): one-step task with a known multimodal Boltzmann policy.
_register("mdrl/MultimodalBandit-v0", "mdrl_lib.envs.bandit:MultimodalBanditEnv")
