"""The states a submission and its jobs pass through (stored as their string values).

``StrEnum`` members compare equal to their strings, so rows, templates and JSON keep the
plain values while the code names each state once.
"""

from __future__ import annotations

from enum import StrEnum

from grader.engine.result import Outcome

__all__ = ["FINISHED", "JobStatus", "Outcome", "SubmissionStatus"]


class SubmissionStatus(StrEnum):
    """What a student sees of one submission (``submissions.status``)."""

    QUEUED = "queued"  # waiting for a worker (also after a regrade)
    RUNNING = "running"  # a worker holds the lease of its newest job
    GRADED = "graded"  # a score is stored (the engine graded the notebook)
    REJECTED = "rejected"  # the engine refused the notebook (wrong assignment, invalid): no score
    FAILED = "failed"  # could not be graded (the grader's error, or every attempt was lost)


class JobStatus(StrEnum):
    """One grading attempt of a submission in the queue (``jobs.status``)."""

    QUEUED = "queued"  # claimable
    RUNNING = "running"  # leased by a worker; returns to QUEUED when the lease expires
    DONE = "done"  # its result is written (whatever the engine's outcome)
    FAILED = "failed"  # given up: max attempts reached, or the result could not be stored


# A submission in one of these states waits for nothing (streams end, regrades may pick it).
FINISHED = (SubmissionStatus.GRADED, SubmissionStatus.REJECTED, SubmissionStatus.FAILED)
