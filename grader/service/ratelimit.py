"""Exponential backoff for failed logins, per client address.

A few wrong tokens cost nothing; after that each further attempt from the address must wait
twice as long as the one before (1 s, 2 s, 4 s ... up to ``cap``), counted from the last
failure. While an address waits, its attempts are refused without looking at the token, so
guessing gains no answers. A success does not clear the count (else any enrolled student could
reset it between guesses); an address that stays quiet for ``forget_after`` starts afresh.
A class behind one NAT address shares the count: hence ten free failures and a one-minute cap.

A few lines of our own rather than ``limits``/``slowapi``: those count requests in fixed or
moving windows; a doubling wait that only failures extend is not one of their strategies.
The state is in the API process's memory (one process serves the API), bounded in size.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from grader.service.errors import ApiError


@dataclass
class _Failures:
    count: int
    last: float


@dataclass
class FailureBackoff:
    free: int = 10  # failures before any wait
    base: float = 1.0  # seconds of the first wait
    cap: float = 60.0  # longest wait
    forget_after: float = 900.0  # an address with no failure for this long starts afresh
    max_addresses: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _seen: OrderedDict[str, _Failures] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _wait(self, f: _Failures) -> float:
        over = f.count - self.free
        return 0.0 if over < 0 else min(self.cap, self.base * 2.0**over)

    def retry_after(self, address: str) -> int:
        """Whole seconds this address must still wait before its next attempt (0: go)."""
        with self._lock:
            f = self._seen.get(address)
            if f is None:
                return 0
            left = f.last + self._wait(f) - self.clock()
            return max(0, math.ceil(left))

    def failed(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            f = self._seen.pop(address, None)
            if f is None or now - f.last > self.forget_after:
                f = _Failures(0, now)
            f.count += 1
            f.last = now
            self._seen[address] = f  # most recent last: the oldest go first when full
            while len(self._seen) > self.max_addresses:
                self._seen.popitem(last=False)

    def check(self, address: str) -> None:
        """Raise 429 ``too_many_logins`` (with Retry-After) while ``address`` must wait."""
        wait = self.retry_after(address)
        if wait:
            err = ApiError("too_many_logins", seconds=wait)
            err.headers["Retry-After"] = str(wait)
            raise err


def client_address(request: Request) -> str:
    """The caller's address (uvicorn takes it from X-Forwarded-For only from a trusted proxy)."""
    return request.client.host if request.client else "unknown"
