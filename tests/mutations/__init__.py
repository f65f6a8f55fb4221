"""Buggy and alternative implementations of the graded items (trusted test material)."""
