"""Sampling-based planners: batched MPPI with MaxDiff's path-entropy and NN-MPPI's control-variance terms."""

from mdrl_lib.planners.mppi import (
    MPPIPlanner,
    PlannerConfig,
    control_log_prior,
    filter_matrix,
    mppi_weights,
    path_entropy,
)

__all__ = ["MPPIPlanner", "PlannerConfig", "control_log_prior", "filter_matrix", "mppi_weights", "path_entropy"]
