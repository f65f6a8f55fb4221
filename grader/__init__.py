"""Grader for the 深層学習 Part 2 exercises.

Kept import-free on purpose: the student-side helpers (``grader.student``) are shipped on
their own and imported inside the sandbox, where nothing else of the grader is visible.
"""

__version__ = "0.1.0"
