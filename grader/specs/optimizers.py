"""2-5-1: the optimisers' update rules, checked on whole trajectories.

The call (declared, ``_declare.py``) creates the student's optimiser with this job's
hyper-parameters (textbook keyword names), feeds it a fixed sequence of O(1) random gradients
(magnitudes in [0.5, 1.5], so that eps placement cannot matter) for two parameters and records
the displacements ``p_k - p_0`` after every step. The reference optimiser and each known
mistake (a mistaken implementation) run through the same call; the trajectories are compared
(relative error over the whole trajectory).
"""

from __future__ import annotations

import numpy as np

import reference
from grader.engine.spec import Assignment
from grader.specs._checks import scalar, signed_uniform
from grader.specs._declare import construct, declare, dict_of, mistake, var

STEPS = 6
SHAPES = {"W": (3, 4), "b": (4,)}

# optimiser -> the keyword hyper-parameters its constructor takes (besides lr), with ranges
HYPER = {
    "SGD": {},
    "Momentum": {"momentum": (0.7, 0.95)},
    "Nesterov": {"momentum": (0.7, 0.95)},
    "AdaGrad": {},
    "RMSProp": {"decay_rate": (0.8, 0.95)},
    "Adam": {"beta1": (0.8, 0.9), "beta2": (0.95, 0.999)},
}


def inputs_maker(name: str):
    """The hyper-parameters, the start ``W0``, ``b0`` and the gradients ``gW<k>``, ``gb<k>``
    of step k."""

    def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
        arrays = {"lr": scalar(rng.uniform(0.05, 0.2))}
        for key, (lo, hi) in HYPER[name].items():
            arrays[key] = scalar(rng.uniform(lo, hi))
        for key, shape in SHAPES.items():
            arrays[f"{key}0"] = rng.standard_normal(shape)
            grads = signed_uniform(rng, (STEPS, *shape), 0.5, 1.5)
            arrays.update({f"g{key}{k}": g for k, g in enumerate(grads)})
        return arrays

    return make_inputs


def trajectory(name: str):
    """The call: the optimiser built with this job's hyper-parameters (textbook keyword
    names), ``update(params, grads)`` on a fixed gradient sequence, the parameters saved after
    every step (one row per step, stacked: shape (STEPS, ...))."""
    hyper = {k: k for k in ("lr", *HYPER[name])}
    call = construct(name, **hyper).let("params", dict_of(W="W0", b="b0"))
    for k in range(STEPS):
        grads = dict_of(W=f"gW{k}", b=f"gb{k}")
        call = call.then("update", var("params"), grads)
        # displacements p_k - p_0: a wrong sign of the step shows as a sign flip
        call = call.read("params", {"W": "W", "b": "b"}, stack=True, since={"W": "W0", "b": "b0"})
    return call


def fresh_each_update(cls):
    """The 'state not kept across calls' mistake: every update starts from a fresh state."""

    class Fresh:
        def __init__(self, **hyper):
            self.hyper = hyper

        def update(self, params, grads):
            cls(**self.hyper).update(params, grads)

    return Fresh


class _AdamNoBiasCorrection(reference.Adam):
    def _begin_step(self):
        self._lr_t = self.lr


class _AdamStepFrom2(reference.Adam):
    """The step counter starts at 1 and is incremented before use: t = 2 at the first update."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.iter = 1


class _AdamStepFrozen(reference.Adam):
    """The step counter is never incremented: every update uses t = 1."""

    def _begin_step(self):
        super()._begin_step()
        self.iter = 0


class _RMSPropSwapped(reference.RMSProp):
    def _step(self, key, param, grad):
        h = self._zeros(self.h, key, param)
        h *= 1.0 - self.decay_rate
        h += self.decay_rate * grad * grad
        param -= self.lr * grad / (np.sqrt(h) + 1e-7)


class _NesterovTextbook(reference.Nesterov):
    """The widely copied textbook code: v <- m v - lr g; p <- p + m^2 v_new - (1+m) lr g."""

    def _step(self, key, param, grad):
        v = self._zeros(self.v, key, param)
        v *= self.momentum
        v -= self.lr * grad
        param += self.momentum * self.momentum * v
        param -= (1 + self.momentum) * self.lr * grad


# The known mistakes per optimiser: mistaken implementations, run through the same call.
MISTAKES = {
    "SGD": {},  # no state
    "Momentum": {"state_not_kept": fresh_each_update(reference.Momentum)},
    "Nesterov": {
        "state_not_kept": fresh_each_update(reference.Nesterov),
        "nesterov_as_momentum": reference.Momentum,
        "nesterov_textbook_form": _NesterovTextbook,
    },
    "AdaGrad": {"state_not_kept": fresh_each_update(reference.AdaGrad)},
    "RMSProp": {
        "state_not_kept": fresh_each_update(reference.RMSProp),
        "rmsprop_decay_swapped": _RMSPropSwapped,
    },
    "Adam": {
        "state_not_kept": fresh_each_update(reference.Adam),
        "adam_no_bias_correction": _AdamNoBiasCorrection,
        "adam_step_from_2": _AdamStepFrom2,
        "adam_step_not_incremented": _AdamStepFrozen,
    },
}


def _item(name: str):
    return declare(
        f"{name.lower()}_update",
        (f"{name} の更新則", f"{name} update rule"),
        points=1,
        call=trajectory(name),
        solution=getattr(reference, name),
        inputs=inputs_maker(name),
        expect="solution",
        # Same arithmetic up to rounding: textbook forms measure <= 5e-16 (40 seeds); eps
        # placement with |g| >= 0.5: AdaGrad eps inside the root 2.9e-8, Adam with m_hat/v_hat
        # and eps 1e-8 7.5e-7. The nearest known mistake (Adam without bias correction) is 3.7e-2.
        tol=1e-5,
        mistakes=[mistake(hint, code=code) for hint, code in MISTAKES[name].items()],
    )


ASSIGNMENT = Assignment(
    id="2-5-1_optimizers",
    order=100,
    title={"ja": "最適化手法", "en": "Optimisers"},
    items=tuple(_item(name) for name in HYPER),
)
