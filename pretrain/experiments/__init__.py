"""Experiments that train models: the ablation of loss settings over seeds."""
