"""Student-side helpers for the 深層学習 Part 2 notebooks.

Everything here needs only NumPy, Matplotlib and tqdm, and nothing else of the grader: this
package is what students install (``grader release``) and the only project code visible
inside the grading sandbox.
"""

from grader.student.selfcheck import CheckFailed, CheckReport, check, register_check

__all__ = [
    "CheckFailed",
    "CheckReport",
    "check",
    "register_check",
    "load_mnist",
    "plot_history",
    "submit",
]


def __getattr__(name):
    # Lazy so that importing the checks does not pull in the data loader and vice versa.
    if name == "load_mnist":
        from grader.student.mnist import load_mnist

        return load_mnist
    if name == "plot_history":  # lazy: Matplotlib is slow to import and the checks need none
        from grader.student.plotting import plot_history

        return plot_history
    if name == "submit":
        from grader.student.submission import submit

        return submit
    raise AttributeError(name)
