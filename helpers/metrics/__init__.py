"""Measuring text and people: style scorers and their validation, agreement, A/B and judge statistics, policy evaluation, hack detectors."""
