"""Learned models used by the model-based agents (MaxDiff RL, NN-MPPI)."""

from mdrl_lib.models.dynamics import DynamicsValueModel, ModelConfig, ModelTrainer, model_loss

__all__ = ["DynamicsValueModel", "ModelConfig", "ModelTrainer", "model_loss"]
