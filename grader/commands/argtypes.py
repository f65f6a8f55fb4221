"""argparse value types that refuse out-of-range numbers with a clear message."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def _bounded(convert: Callable[[str], float], low: float, high: float | None, what: str):
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value != value or value < low or (high is not None and value > high):  # NaN too
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


slot = _bounded(int, 0, 999, "a slot number (0-999)")
port = _bounded(int, 1, 65535, "a TCP port (1-65535)")
count = _bounded(int, 0, None, "a whole number >= 0")
positive_int = _bounded(int, 1, None, "a whole number >= 1")
seconds = _bounded(float, 0.0, 7 * 24 * 3600.0, "a number of seconds (0 to one week)")
positive_seconds = _bounded(float, 0.001, 7 * 24 * 3600.0, "a positive number of seconds")
megabytes = _bounded(float, 0.001, 1024.0, "a size in MB (up to 1024)")
