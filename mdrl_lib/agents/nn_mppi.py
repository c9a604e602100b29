"""NN-MPPI, the MaxDiff paper's model-based baseline (docs/methods/maxdiff.md §2.2, "Extra term in the NN-MPPI
baseline").

The same agent as :class:`~mdrl_lib.agents.maxdiff.MaxDiffAgent` — learned dynamics + SARSA value model,
warm-started MPPI with filtered noise — with no path-entropy bonus (α = 0) and, as in the authors'
``PathIntegral`` class whose default the configs never changed, the control prior
``λ·Σ_t log N(η_t; 0, σ²I)`` added to every sample's score.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from mdrl_lib.agents.maxdiff import MaxDiffConfig, ModelBasedAgent, maxdiff_config


def mppi_config(env: str, *, beta: float | None = None, single_shot: bool = False, control_variance: bool = True,
                **planner_overrides) -> MaxDiffConfig:
    """The published NN-MPPI settings for ``env`` (docs/methods/maxdiff.md §4.2): MaxDiff's
    (:func:`maxdiff_config`, episodic or ``single_shot``) with α = 0, no α schedule, no exploration dims or
    entropy window, plus the control prior (``control_variance=False`` drops it: then MaxDiff at α = 0).

    So NN-MPPI has MaxDiff's horizon, samples, λ and model everywhere: e.g. HalfCheetah K 500 (single-shot
    1000), Ant K 1000, single-shot Swimmer K 1000 with 10 model updates per step."""
    cfg = maxdiff_config(env, beta=beta, single_shot=single_shot, **planner_overrides)
    planner = replace(cfg.planner, alpha=0.0, explr_weights=None, explr_dims=None, window=False,
                      control_variance=control_variance)
    return replace(cfg, planner=planner, alpha_schedule=())


class MPPIAgent(ModelBasedAgent):
    """NN-MPPI: model-based MPPI without the entropy bonus (α must be 0)."""

    def __init__(self, state_dim: int, action_dim: int, config: MaxDiffConfig, *, seed: int,
                 device: torch.device | str | None = None):
        if config.planner.alpha != 0.0 or any(a != 0.0 for _, a in config.alpha_schedule):
            raise ValueError(f"NN-MPPI has no entropy bonus: alpha must be 0 (got planner.alpha="
                             f"{config.planner.alpha}, alpha_schedule={config.alpha_schedule}); "
                             f"use MaxDiffAgent for alpha > 0")
        super().__init__(state_dim, action_dim, config, seed=seed, device=device)
