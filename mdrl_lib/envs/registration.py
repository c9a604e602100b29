"""Registers the ``mdrl/`` gymnasium ids (environments are added here as they land)."""
