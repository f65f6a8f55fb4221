"""Data sets for the reference side: the student-side loaders, re-exported.

``load_mnist`` and the small seeded sets live in ``grader.student`` because students need them
without ``reference/``; this module gives them their textbook-style home here.
"""

from grader.student.datasets import make_moons, make_sine, make_spiral
from grader.student.mnist import load_mnist

__all__ = ["load_mnist", "make_sine", "make_moons", "make_spiral"]
