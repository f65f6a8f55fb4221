"""2-5-1: the optimisers' update rules, checked on whole trajectories.

The probe creates the student's optimiser with this job's hyper-parameters (textbook keyword
names), feeds it a fixed sequence of O(1) random gradients (magnitudes in [0.5, 1.5], so that
eps placement cannot matter) for two parameters and records the parameters after every step.
The trusted side runs the reference optimiser on the same sequence and compares the
displacements ``p_k - p_0`` (relative error over the whole trajectory).
"""

from __future__ import annotations

import numpy as np

import reference
from grader.engine.diagnose import GENERIC_HINTS, Mistake
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import compare, scalar, signed_uniform

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
    def make_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
        arrays = {"lr": scalar(rng.uniform(0.05, 0.2))}
        for key, (lo, hi) in HYPER[name].items():
            arrays[key] = scalar(rng.uniform(lo, hi))
        for key, shape in SHAPES.items():
            arrays[f"{key}0"] = rng.standard_normal(shape)
            arrays[f"g{key}"] = signed_uniform(rng, (STEPS, *shape), 0.5, 1.5)
        return arrays

    return make_inputs


PROBE = """
import numpy as _np
_opt = {name}(lr=float(inp["lr"]){kwargs})
_params = {{"W": inp["W0"].copy(), "b": inp["b0"].copy()}}
_traj = {{"W": [], "b": []}}
for _k in range(len(inp["gW"])):
    _opt.update(_params, {{"W": inp["gW"][_k].copy(), "b": inp["gb"][_k].copy()}})
    for _key in ("W", "b"):
        _traj[_key].append(_np.array(_params[_key], dtype=_np.float64))
out["W"] = _np.stack(_traj["W"])
out["b"] = _np.stack(_traj["b"])
"""


def _probe(name: str) -> str:
    kwargs = "".join(f', {k}=float(inp["{k}"])' for k in HYPER[name])
    return PROBE.format(name=name, kwargs=kwargs)


def trajectory(optimizer, i: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Displacements p_k - p_0 (STEPS, *shape) of ``optimizer`` on the job's gradients."""
    params = {k: i[f"{k}0"].copy() for k in SHAPES}
    traj: dict[str, list[np.ndarray]] = {k: [] for k in SHAPES}
    for step in range(STEPS):
        optimizer.update(params, {k: i[f"g{k}"][step].copy() for k in SHAPES})
        for k in SHAPES:
            traj[k].append(params[k] - i[f"{k}0"])
    return {k: np.stack(v) for k, v in traj.items()}


def _hyper(name: str, i: dict[str, np.ndarray]) -> dict[str, float]:
    return {"lr": float(i["lr"]), **{k: float(i[k]) for k in HYPER[name]}}


class _Fresh:
    """Wraps an optimiser factory so that every update starts from a fresh state (the
    'state not kept across calls' mistake)."""

    def __init__(self, factory):
        self.factory = factory

    def update(self, params, grads):
        self.factory().update(params, grads)


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


def mistakes_for(name: str, i: dict[str, np.ndarray]) -> list[Mistake]:
    h = _hyper(name, i)
    cls = getattr(reference, name)
    wrong: list[tuple[str, object]] = [("state_not_kept", _Fresh(lambda: cls(**h)))]
    if name == "Nesterov":
        wrong.append(("nesterov_as_momentum", reference.Momentum(**h)))
        wrong.append(("nesterov_textbook_form", _NesterovTextbook(**h)))
    if name == "RMSProp":
        wrong.append(("rmsprop_decay_swapped", _RMSPropSwapped(**h)))
    if name == "Adam":
        wrong.append(("adam_no_bias_correction", _AdamNoBiasCorrection(**h)))
        wrong.append(("adam_step_from_2", _AdamStepFrom2(**h)))
        wrong.append(("adam_step_not_incremented", _AdamStepFrozen(**h)))
    if name in ("SGD",):
        wrong = []  # SGD has no state
    return [Mistake(hint, trajectory(opt, i)) for hint, opt in wrong]


def scorer(name: str):
    def score(ctx: ScoreContext) -> Verdict:
        i = ctx.inputs
        expected = trajectory(getattr(reference, name)(**_hyper(name, i)), i)
        got = {
            k: ctx.require(k, shape=(STEPS, *SHAPES[k]), finite=False) - i[f"{k}0"] for k in SHAPES
        }
        # Same arithmetic up to rounding: textbook forms measure <= 5e-16 (40 seeds); eps
        # placement with |g| >= 0.5: AdaGrad eps inside the root 2.9e-8, Adam with m_hat/v_hat
        # and eps 1e-8 7.5e-7. The nearest known mistake (Adam without bias correction) is 3.7e-2.
        return compare(ctx, expected, tol=1e-5, mistakes=mistakes_for(name, i), student=got)

    return score


# The mistakes ``mistakes_for`` diagnoses, per optimiser (the item's declared hints).
KNOWN_MISTAKES = {
    "SGD": (),
    "Momentum": ("state_not_kept",),
    "Nesterov": ("state_not_kept", "nesterov_as_momentum", "nesterov_textbook_form"),
    "AdaGrad": ("state_not_kept",),
    "RMSProp": ("state_not_kept", "rmsprop_decay_swapped"),
    "Adam": (
        "state_not_kept",
        "adam_no_bias_correction",
        "adam_step_from_2",
        "adam_step_not_incremented",
    ),
}


def _item(name: str) -> Item:
    return Item(
        id=f"{name.lower()}_update",
        title={"ja": f"{name} の更新則", "en": f"{name} update rule"},
        points=1,
        probe=_probe(name),
        make_inputs=inputs_maker(name),
        score=scorer(name),
        hints=(*GENERIC_HINTS, *KNOWN_MISTAKES[name]),
    )


ASSIGNMENT = Assignment(
    id="2-5-1_optimizers",
    order=100,
    title={"ja": "最適化手法", "en": "Optimisers"},
    items=tuple(_item(name) for name in HYPER),
)
