"""Self-checks leave the notebook's ``np.random`` as they found it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


@contextmanager
def kept_random_state(seed: int | None = None) -> Iterator[None]:
    """Run a check (seeded with ``seed``, if given) and give the notebook's own global random
    state back afterwards: its later draws go on as if no check had run."""
    state = np.random.get_state()
    if seed is not None:
        np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)
