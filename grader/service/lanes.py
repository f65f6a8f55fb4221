"""The worker lanes of the claim order (grader/service/queue.py explains the order); no
imports, so that the command line can offer them without loading the database layer."""

LANES = ("any", "light-first", "fifo")
LIGHT_SECONDS = 8.0  # light: expected within this (3-1-2 ~1.3 s; 2-4..2-10 take 15-27 s)


def serve_lane(slot: int, workers: int) -> str:
    """Lane of a ``grader serve`` worker: slot 0 takes light jobs first when there are two or
    more workers, so heavy jobs always keep a worker of their own."""
    return "light-first" if slot == 0 and workers >= 2 else "any"
