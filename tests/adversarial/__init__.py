"""Adversarial notebooks against the grading sandbox (one builder per attack)."""
