"""reference.optimizers on f(x, y) = x^2 + 100 y^2 from (10, 1): hand-computed steps,
convergence, Nesterov vs seed 004 Alg. 8.3, eps placement, LinearDecay, Polyak, clipping.

grad f = (2x, 200y); at the start g = (20, 200).
"""

import math

import numpy as np
import pytest

from reference.optimizers import (
    SGD,
    AdaGrad,
    Adam,
    LinearDecay,
    Momentum,
    Nesterov,
    PolyakAveraging,
    RMSProp,
    clip_grad_norm,
)


def start():
    return {"x": np.array([10.0]), "y": np.array([1.0])}


def grad(p):
    return {"x": 2 * p["x"], "y": 200 * p["y"]}


def trajectory(opt, steps, schedule=None):
    p = start()
    points = []
    for k in range(steps):
        if schedule is not None:
            schedule.apply(opt, k)
        opt.update(p, grad(p))
        points.append((p["x"][0], p["y"][0]))
    return points


# (optimiser, [(x1, y1), (x2, y2)]) worked out by hand; 6 decimals are written, so abs=1e-6
HAND_STEPS = [
    # SGD lr=0.001: x1 = 10 - 0.001*20 = 9.98, y1 = 1 - 0.001*200 = 0.8;
    # g = (19.96, 160): x2 = 9.98 - 0.01996 = 9.96004, y2 = 0.8 - 0.16 = 0.64
    (lambda: SGD(lr=0.001), [(9.98, 0.8), (9.96004, 0.64)]),
    # Momentum lr=0.001, a=0.9: v1 = -0.001*(20, 200) = (-0.02, -0.2), p1 = (9.98, 0.8);
    # g = (19.96, 160): v2 = 0.9*v1 - 0.001*g = (-0.03796, -0.34), p2 = (9.94204, 0.46)
    (lambda: Momentum(lr=0.001, momentum=0.9), [(9.98, 0.8), (9.94204, 0.46)]),
    # Nesterov (look-ahead form) lr=0.001, a=0.9: v1 = (-0.02, -0.2);
    # p1 = p0 + a*v1 - lr*g = (10 - 0.018 - 0.02, 1 - 0.18 - 0.2) = (9.962, 0.62);
    # g = (19.924, 124): v2 = 0.9*v1 - 0.001*g = (-0.037924, -0.304);
    # p2 = (9.962 - 0.0341316 - 0.019924, 0.62 - 0.2736 - 0.124) = (9.907944, 0.2224)
    (lambda: Nesterov(lr=0.001, momentum=0.9), [(9.962, 0.62), (9.9079444, 0.2224)]),
    # AdaGrad lr=0.1: h1 = (400, 40000), step = 0.1*g/sqrt(h1) = (0.1, 0.1): p1 = (9.9, 0.9);
    # g = (19.8, 180): h2 = (792.04, 72400), sqrt = (28.143206, 269.072481);
    # x2 = 9.9 - 1.98/28.143206 = 9.829646, y2 = 0.9 - 18/269.072481 = 0.833104
    (lambda: AdaGrad(lr=0.1), [(9.9, 0.9), (9.829646, 0.833104)]),
    # RMSProp lr=0.01, rho=0.99: h1 = 0.01*(400, 40000) = (4, 400): p1 = (9.9, 0.9);
    # g = (19.8, 180): h2 = 0.99*h1 + 0.01*(392.04, 32400) = (7.8804, 720);
    # x2 = 9.9 - 0.198/2.807205 = 9.829467, y2 = 0.9 - 1.8/26.832816 = 0.832918
    (lambda: RMSProp(lr=0.01, decay_rate=0.99), [(9.9, 0.9), (9.829467, 0.832918)]),
    # Adam lr=0.1: m1 = 0.1*g = (2, 20), v1 = 0.001*g^2 = (0.4, 40),
    # lr_1 = 0.1*sqrt(0.001)/0.1 = 0.0316228, step = lr_1*(2/0.632456, 20/6.324555) = (0.1, 0.1);
    # g = (19.8, 180): m2 = (3.78, 36), v2 = 0.999*v1 + 0.001*(392.04, 32400) = (0.79164, 72.36),
    # lr_2 = 0.1*sqrt(1 - 0.999^2)/(1 - 0.9^2) = 0.1*0.0447102/0.19 = 0.0235317;
    # x2 = 9.9 - 0.0235317*3.78/0.889741 = 9.800027, y2 = 0.9 - 0.0235317*36/8.506468 = 0.800412
    (lambda: Adam(lr=0.1, beta1=0.9, beta2=0.999), [(9.9, 0.9), (9.800027, 0.800412)]),
]


@pytest.mark.parametrize(
    "make, expected", HAND_STEPS, ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
)
def test_first_two_steps_by_hand(make, expected):
    points = trajectory(make(), 2)
    for (x, y), (ex, ey) in zip(points, expected):
        assert x == pytest.approx(ex, abs=1e-6)
        assert y == pytest.approx(ey, abs=1e-6)


@pytest.mark.parametrize(
    "make, steps, schedule",
    [
        (lambda: SGD(lr=0.008), 1000, None),
        (lambda: Momentum(lr=0.005, momentum=0.9), 500, None),
        (lambda: Nesterov(lr=0.005, momentum=0.9), 500, None),
        (lambda: AdaGrad(lr=1.5), 500, None),
        # with a constant lr RMSProp keeps hopping across the valley (|y| ~ 2e-3 at lr=0.1)
        (lambda: RMSProp(lr=0.1), 500, LinearDecay(0.1, 0.0, 400)),
        (lambda: Adam(lr=0.3), 500, None),
    ],
    ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop_decay", "adam"],
)
def test_reaches_the_minimum(make, steps, schedule):
    x, y = trajectory(make(), steps, schedule)[-1]
    assert abs(x) < 1e-4 and abs(y) < 1e-4


def alg_8_3(theta, v, lr, alpha, grad_fn, steps):
    """Seed 004 Algorithm 8.3, literally: look-ahead, gradient there, velocity, update."""
    out = []
    for _ in range(steps):
        look = theta + alpha * v
        g = grad_fn(look)
        v = alpha * v - lr * g
        theta = theta + v
        out.append((theta.copy(), v.copy()))
    return out


@pytest.mark.parametrize("initial_velocity", [False, True], ids=["v0=0", "v0!=0"])
def test_nesterov_reproduces_algorithm_8_3(initial_velocity):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    A = A @ A.T + np.eye(4)  # a non-separable convex quadratic f = t^T A t / 2 - b^T t
    b = rng.standard_normal(4)
    grad_fn = lambda t: A @ t - b
    lr, alpha = 0.05, 0.9
    theta0 = rng.standard_normal(4)
    v0 = rng.standard_normal(4) if initial_velocity else np.zeros(4)

    reference = alg_8_3(theta0.copy(), v0.copy(), lr, alpha, grad_fn, 40)

    # the optimiser stores phi = theta + alpha * v and is given grad f(phi)
    opt = Nesterov(lr=lr, momentum=alpha)
    params = {"t": theta0 + alpha * v0}
    if initial_velocity:
        opt.v = {"t": v0.copy()}
    for theta_k, v_k in reference:
        opt.update(params, {"t": grad_fn(params["t"])})
        np.testing.assert_allclose(params["t"], theta_k + alpha * v_k, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(opt.v["t"], v_k, rtol=1e-12, atol=1e-12)


def test_eps_sits_outside_the_square_root():
    # a gradient of 1e-7, the size of eps, makes the placement visible
    g = {"w": np.array([1e-7])}
    p = {"w": np.array([0.0])}
    AdaGrad(lr=1.0).update(p, g)  # 1e-7 / (sqrt(1e-14) + 1e-7) = 1/2
    assert p["w"][0] == pytest.approx(-0.5, rel=1e-12)
    p = {"w": np.array([0.0])}
    RMSProp(lr=1.0, decay_rate=0.99).update(p, g)  # h = 1e-16: 1e-7 / (1e-8 + 1e-7) = 1/1.1
    assert p["w"][0] == pytest.approx(-1 / 1.1, rel=1e-12)
    p = {"w": np.array([0.0])}
    Adam(lr=1.0).update(p, g)
    # lr_1 = sqrt(1e-3)/0.1, m = 1e-8, sqrt(v) = sqrt(1e-3)*1e-7: the implementation-friendly
    # form gives lr_1 * 1e-8 / (sqrt(1e-3)*1e-7 + 1e-7); the original form would give 1/2
    r = math.sqrt(1e-3)
    assert p["w"][0] == pytest.approx(-(r / 0.1) * 1e-8 / (r * 1e-7 + 1e-7), rel=1e-12)


@pytest.mark.parametrize("cls", [SGD, Momentum, Nesterov, AdaGrad, RMSProp, Adam])
def test_float32_parameters_stay_float32_and_are_updated_in_place(cls):
    w = np.ones((3, 2), dtype=np.float32)
    params = {"W1": w}
    opt = cls(lr=0.1)
    for _ in range(3):
        opt.update(params, {"W1": np.full((3, 2), 0.5, dtype=np.float32)})
    assert params["W1"] is w and w.dtype == np.float32 and np.all(w < 1)


def test_update_rejects_mismatched_dicts():
    opt = SGD()
    with pytest.raises(KeyError, match="b1"):
        opt.update({"W1": np.ones(2), "b1": np.ones(2)}, {"W1": np.ones(2)})
    with pytest.raises(ValueError, match="shape"):
        opt.update({"W1": np.ones((2, 3))}, {"W1": np.ones(3)})
    with pytest.raises(ValueError, match="lr"):
        Adam(lr=-1)
    with pytest.raises(ValueError, match="momentum"):
        Momentum(momentum=1.0)


def test_linear_decay_values():
    s = LinearDecay(lr_0=0.1, lr_tau=0.01, tau=10)
    # lr_k = (1 - k/10)*0.1 + (k/10)*0.01: k=5 gives 0.05 + 0.005; constant after tau
    assert [s(k) for k in (0, 5, 10, 11, 1000)] == pytest.approx([0.1, 0.055, 0.01, 0.01, 0.01])
    opt = Momentum(lr=0.1)
    assert s.apply(opt, 4) == pytest.approx(0.064) and opt.lr == pytest.approx(0.064)
    with pytest.raises(ValueError, match="tau"):
        LinearDecay(0.1, 0.01, 0)
    with pytest.raises(ValueError, match="k"):
        s(-1)


def test_polyak_arithmetic_and_exponential_averages():
    mean, ema = PolyakAveraging(), PolyakAveraging(decay=0.5)
    w = np.array([0.0])
    for value in (1.0, 2.0, 3.0, 6.0):
        w[0] = value  # the same array changed in place, as an optimiser does
        mean.update({"w": w})
        ema.update({"w": w})
    assert mean.averaged()["w"][0] == pytest.approx(3.0)  # (1 + 2 + 3 + 6) / 4
    # 1 -> 0.5*1 + 0.5*2 = 1.5 -> 0.5*1.5 + 0.5*3 = 2.25 -> 0.5*2.25 + 0.5*6 = 4.125
    assert ema.averaged()["w"][0] == pytest.approx(4.125)
    copy = mean.averaged()
    copy["w"][0] = 99.0
    assert mean.averaged()["w"][0] == pytest.approx(3.0)


def test_polyak_average_settles_an_oscillating_iterate():
    # SGD with lr = 0.01 maps y to y - 0.01*200*y = -y: it hops between 1 and -1 forever
    opt, avg = SGD(lr=0.01), PolyakAveraging()
    p = start()
    for _ in range(1000):
        opt.update(p, grad(p))
        avg.update(p)
    assert abs(p["y"][0]) == pytest.approx(1.0)
    assert abs(avg.averaged()["y"][0]) <= 1e-3


def test_clip_grad_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert clip_grad_norm(grads, 10.0) == pytest.approx(5.0)
    assert grads["a"].tolist() == [3.0, 0.0]  # under the limit: untouched
    assert clip_grad_norm(grads, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(grads["a"], [0.6, 0.0], rtol=1e-15)
    np.testing.assert_allclose(grads["b"], [[0.8]], rtol=1e-15)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(grads, 0.0)
