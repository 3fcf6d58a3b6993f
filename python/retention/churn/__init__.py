"""Churn modelling: baselines, candidates, out-of-time selection, calibration, scoring."""
