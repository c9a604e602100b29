"""Learned models used by the model-based agents (MaxDiff RL, NN-MPPI)."""

from mdrl_lib.models.dynamics import DynamicsValueModel, ModelConfig, ModelTrainer, model_loss
from mdrl_lib.models.replay import ReplayBuffer

__all__ = ["DynamicsValueModel", "ModelConfig", "ModelTrainer", "ReplayBuffer", "model_loss"]
