"""The self-checks of notebooks 2-4, 2-5-1, 2-5-2 and 2-6 pass correct code and catch mistakes.

Student-style implementations are written here (copied from the solution cells of
``solutions/2-4_*``, ``2-5-1_*`` and ``2-6_*``) because the checks run on whatever the student
typed; each known bug variant must fail with its targeted hint. The module's own names carry a
suffix (``SGDOk``, ...) so that ``check`` never finds them in this module's globals: objects are
always handed over explicitly, and a missing one must give the "not defined" failure.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import reference.initializers as ref_init
import reference.optimizers as ref_opt
from grader.student import CheckFailed, check, load_mnist
from reference.networks import MultiLayerNet as RefMultiLayerNet


def _run(item, **objects) -> bool:
    try:
        check(item, lang="en", quiet=True, **objects)
    except CheckFailed:
        return False
    return True


def _report(item, capsys, **objects) -> str:
    """The printed English report of a check that must fail."""
    with pytest.raises(CheckFailed):
        check(item, lang="en", **objects)
    return capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# 2-4: MultiLayerNet.gradient
# --------------------------------------------------------------------------------------------


def _softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = np.sum(dout, axis=0)
        return dout @ self.W.T


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class SoftmaxWithLoss:
    """The textbook's layer, with the log(y + 1e-7) guard the check's tolerance allows for."""

    def forward(self, x, t):
        if t.ndim == 2:  # one-hot targets, as the notebook's given layer accepts them
            t = t.argmax(axis=1)
        self.t, self.y = t, _softmax(x)
        n = x.shape[0]
        self.loss = -np.sum(np.log(self.y[np.arange(n), t] + 1e-7)) / n
        return self.loss

    def backward(self, dout=1):
        n = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx / n * dout


class MultiLayerNetOk:
    """The solution of notebook 2-4 (layers hold the arrays of ``params`` themselves)."""

    def __init__(
        self, input_size, hidden_size_list, output_size, activation="relu", weight_init_std=0.01
    ):
        sizes = [input_size, *hidden_size_list, output_size]
        self.n_affine = len(sizes) - 1
        self.params = {}
        self._init_weight(sizes, weight_init_std)
        self.layers = OrderedDict()
        for i in range(1, self.n_affine + 1):
            self.layers[f"Affine{i}"] = self._affine(i)
            if i < self.n_affine:
                self.layers[f"Activation{i}"] = {"relu": Relu, "sigmoid": Sigmoid}[activation]()
        self.last_layer = SoftmaxWithLoss()

    def _init_weight(self, sizes, std):
        for i in range(1, len(sizes)):
            self.params[f"W{i}"] = std * np.random.randn(sizes[i - 1], sizes[i])
            self.params[f"b{i}"] = np.zeros(sizes[i])

    def _affine(self, i):
        return Affine(self.params[f"W{i}"], self.params[f"b{i}"])

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def _backward(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)

    def gradient(self, x, t):
        self._backward(x, t)
        grads = {}
        for i in range(1, self.n_affine + 1):
            grads[f"W{i}"] = self.layers[f"Affine{i}"].dW
            grads[f"b{i}"] = self.layers[f"Affine{i}"].db
        return grads


class NetSignFlipped(MultiLayerNetOk):
    def gradient(self, x, t):
        return {k: -g for k, g in super().gradient(x, t).items()}


class NetNotDividedByN(MultiLayerNetOk):
    def gradient(self, x, t):
        return {k: len(x) * g for k, g in super().gradient(x, t).items()}


class NetAffineCopies(MultiLayerNetOk):
    def _affine(self, i):
        return Affine(self.params[f"W{i}"].copy(), self.params[f"b{i}"].copy())


class NetTransposedWeights(MultiLayerNetOk):
    def _init_weight(self, sizes, std):
        super()._init_weight(sizes, std)
        for i in range(1, len(sizes)):
            self.params[f"W{i}"] = self.params[f"W{i}"].T.copy()


class NetWithoutBiasGrads(MultiLayerNetOk):
    def gradient(self, x, t):
        return {k: g for k, g in super().gradient(x, t).items() if k.startswith("W")}


class NetSkipsActivationBackward(MultiLayerNetOk):
    """Backward passes dout straight through the activations (forgets their derivative)."""

    def _backward(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for name, layer in reversed(list(self.layers.items())):
            if name.startswith("Affine"):
                dout = layer.backward(dout)


class NetNotImplemented(MultiLayerNetOk):
    def gradient(self, x, t):
        raise NotImplementedError


def test_correct_multilayer_gradient_passes_and_keeps_the_notebook_random_state():
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    assert _run("multilayer_gradient", MultiLayerNet=MultiLayerNetOk)
    assert np.random.rand() == expected


def test_reference_multilayer_net_passes():
    assert _run("multilayer_gradient", MultiLayerNet=RefMultiLayerNet)


@pytest.mark.parametrize(
    ("net", "hint"),
    [
        (NetSignFlipped, "opposite sign of the expected one"),
        (NetNotDividedByN, "exactly N times the expected one"),
        (NetAffineCopies, None),
        (NetTransposedWeights, "could not broadcast input array from shape (5,4) into shape (4,5)"),
        (NetWithoutBiasGrads, "KeyError: 'b1'"),
        (NetSkipsActivationBackward, None),
    ],
)
def test_multilayer_mistakes_fail_with_their_hint(net, hint, capsys):
    """Every mistake fails the (derived) self-check; where the trusted check knows the
    mistake, the self-check names it too (``hint`` None: no hint is known for it)."""
    out = _report("multilayer_gradient", capsys, MultiLayerNet=net)
    assert "[FAIL] multilayer_gradient" in out
    assert hint is None or hint in out


def test_multilayer_missing_and_unimplemented(capsys):
    assert "`MultiLayerNet` is not defined" in _report("multilayer_gradient", capsys)
    out = _report("multilayer_gradient", capsys, MultiLayerNet=NetNotImplemented)
    assert "not implemented yet (NotImplementedError)" in out


# --------------------------------------------------------------------------------------------
# 2-5-1: optimisers
# --------------------------------------------------------------------------------------------


class SGDOk:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * grads[key]


class MomentumOk:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class NesterovOk(MomentumOk):
    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.momentum * self.v[key] - self.lr * grads[key]


class AdaGradOk:
    eps_inside_sqrt = False

    def __init__(self, lr=0.01):
        self.lr, self.h = lr, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            self.h[key] += grads[key] * grads[key]
            if self.eps_inside_sqrt:
                params[key] -= self.lr * grads[key] / np.sqrt(self.h[key] + 1e-7)
            else:
                params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class RMSPropOk:
    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr, self.decay_rate, self.h = lr, decay_rate, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        rho = self._rho()
        for key in params.keys():
            self.h[key] = rho * self.h[key] + (1 - rho) * grads[key] ** 2
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)

    def _rho(self):
        return self.decay_rate


class AdamOk:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter, self.s, self.r = 0, None, None

    def update(self, params, grads):
        if self.s is None:
            self.s = {key: np.zeros_like(val) for key, val in params.items()}
            self.r = {key: np.zeros_like(val) for key, val in params.items()}
        self.iter += 1
        lr_t = self._lr_t()
        for key in params.keys():
            self.s[key] = self.beta1 * self.s[key] + (1 - self.beta1) * grads[key]
            self.r[key] = self.beta2 * self.r[key] + (1 - self.beta2) * grads[key] ** 2
            params[key] -= lr_t * self.s[key] / (np.sqrt(self.r[key]) + 1e-7)

    def _lr_t(self):
        return self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)


class SGDSignFlipped(SGDOk):
    def update(self, params, grads):
        for key in params:
            params[key] += self.lr * grads[key]


class SGDReassigns(SGDOk):
    def update(self, params, grads):
        for key in params:
            params[key] = params[key] - self.lr * grads[key]


class MomentumSignFlipped(MomentumOk):
    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] -= self.v[key]


class MomentumResetsV(MomentumOk):
    def update(self, params, grads):
        self.v = None
        super().update(params, grads)


class NesterovTextbook(MomentumOk):
    def update(self, params, grads):
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        a = self.momentum
        for key in params:
            self.v[key] = a * self.v[key] - self.lr * grads[key]
            params[key] += a * a * self.v[key] - (1 + a) * self.lr * grads[key]


class AdaGradReplacesH(AdaGradOk):
    def update(self, params, grads):
        self.h = {key: np.zeros_like(val) for key, val in params.items()}
        super().update(params, grads)


class AdaGradEpsInsideSqrt(AdaGradOk):
    eps_inside_sqrt = True


class RMSPropSwapped(RMSPropOk):
    def _rho(self):
        return 1 - self.decay_rate


class RMSPropAsAdaGrad(AdaGradOk):
    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__(lr)


class AdamWithoutBiasCorrection(AdamOk):
    def _lr_t(self):
        return self.lr


class AdamOverwritesLr(AdamOk):
    def _lr_t(self):
        self.lr = super()._lr_t()
        return self.lr


class AdamEpsTooLarge(AdamOk):
    def update(self, params, grads):
        if self.s is None:
            self.s = {key: np.zeros_like(val) for key, val in params.items()}
            self.r = {key: np.zeros_like(val) for key, val in params.items()}
        self.iter += 1
        lr_t = self._lr_t()
        for key in params:
            self.s[key] = self.beta1 * self.s[key] + (1 - self.beta1) * grads[key]
            self.r[key] = self.beta2 * self.r[key] + (1 - self.beta2) * grads[key] ** 2
            params[key] -= lr_t * self.s[key] / (np.sqrt(self.r[key]) + 1.0)


class OptimizerNotImplemented:
    def __init__(self, **hyper):
        pass

    def update(self, params, grads):
        raise NotImplementedError


OPTIMIZERS = {
    "sgd_update": ("SGD", SGDOk, ref_opt.SGD),
    "momentum_update": ("Momentum", MomentumOk, ref_opt.Momentum),
    "nesterov_update": ("Nesterov", NesterovOk, ref_opt.Nesterov),
    "adagrad_update": ("AdaGrad", AdaGradOk, ref_opt.AdaGrad),
    "rmsprop_update": ("RMSProp", RMSPropOk, ref_opt.RMSProp),
    "adam_update": ("Adam", AdamOk, ref_opt.Adam),
}


@pytest.mark.parametrize("item", sorted(OPTIMIZERS))
def test_correct_optimizers_pass(item):
    name, student, reference = OPTIMIZERS[item]
    assert _run(item, **{name: student})
    assert _run(item, **{name: reference})


def test_rebinding_the_params_entries_passes_as_it_does_in_grading():
    # the self-check runs the graded call: what grading accepts (tests/mutations, SGD
    # "rebinding") the self-check accepts too
    assert _run("sgd_update", SGD=SGDReassigns)


def test_eps_inside_the_square_root_is_tolerated():
    assert _run("adagrad_update", AdaGrad=AdaGradEpsInsideSqrt)


@pytest.mark.parametrize(
    ("item", "optimizer", "hint"),
    [
        ("sgd_update", SGDSignFlipped, "opposite sign of the expected one"),
        ("momentum_update", MomentumSignFlipped, "opposite sign of the expected one"),
        ("momentum_update", MomentumResetsV, "is not kept across calls of update"),
        ("nesterov_update", NesterovTextbook, "widely copied textbook code"),
        ("nesterov_update", MomentumOk, "same updates as plain Momentum"),
        ("adagrad_update", AdaGradReplacesH, "is not kept across calls of update"),
        ("rmsprop_update", RMSPropSwapped, "averaging weights are swapped"),
        ("rmsprop_update", RMSPropAsAdaGrad, None),
        ("adam_update", AdamWithoutBiasCorrection, "Adam lacks the bias correction"),
        ("adam_update", AdamOverwritesLr, None),
        ("adam_update", AdamEpsTooLarge, None),
    ],
)
def test_optimizer_mistakes_fail_with_their_hint(item, optimizer, hint, capsys):
    name = OPTIMIZERS[item][0]
    out = _report(item, capsys, **{name: optimizer})
    assert f"[FAIL] {item}" in out
    assert hint is None or hint in out


@pytest.mark.parametrize("item", sorted(OPTIMIZERS))
def test_optimizer_missing_and_unimplemented(item, capsys):
    name = OPTIMIZERS[item][0]
    assert f"`{name}` is not defined" in _report(item, capsys)
    out = _report(item, capsys, **{name: OptimizerNotImplemented})
    assert "not implemented yet (NotImplementedError)" in out


# --------------------------------------------------------------------------------------------
# 2-6: initialisers
# --------------------------------------------------------------------------------------------


def he_normal_ok(n_in, n_out):
    return np.random.randn(n_in, n_out) * np.sqrt(2.0 / n_in)


def glorot_normal_ok(n_in, n_out):
    return np.random.randn(n_in, n_out) * np.sqrt(2.0 / (n_in + n_out))


def glorot_uniform_ok(n_in, n_out):
    limit = np.sqrt(6.0 / (n_in + n_out))
    return np.random.uniform(-limit, limit, (n_in, n_out))


def _normal(std):
    return lambda n_in, n_out: std(n_in, n_out) * np.random.randn(n_in, n_out)


def _uniform(limit):
    return lambda n_in, n_out: np.random.uniform(
        -limit(n_in, n_out), limit(n_in, n_out), (n_in, n_out)
    )


def _not_implemented(n_in, n_out):
    raise NotImplementedError


INITIALISERS = {
    "he_normal": (he_normal_ok, ref_init.he_normal),
    "glorot_normal": (glorot_normal_ok, ref_init.glorot_normal),
    "glorot_uniform": (glorot_uniform_ok, ref_init.glorot_uniform),
}


@pytest.mark.parametrize("item", sorted(INITIALISERS))
def test_correct_initialisers_pass_and_keep_the_notebook_random_state(item):
    student, reference = INITIALISERS[item]
    np.random.seed(11)
    expected = np.random.rand()
    np.random.seed(11)
    assert _run(item, **{item: student})
    assert np.random.rand() == expected
    assert _run(item, **{item: reference})


@pytest.mark.parametrize(
    ("item", "fn", "hint"),
    [
        ("he_normal", _normal(lambda i, o: np.sqrt(1 / i)), "the variance is 2/n_in, not 1/n_in"),
        ("he_normal", _normal(lambda i, o: np.sqrt(2 / o)), "use the number of inputs n_in"),
        ("he_normal", _normal(lambda i, o: 2 / i), "2/n_in is the variance"),
        (
            "he_normal",
            _uniform(lambda i, o: np.sqrt(6 / i)),
            "use np.random.randn for a normal distribution",
        ),
        (
            "glorot_normal",
            _normal(lambda i, o: np.sqrt(1 / (i + o))),
            "the variance is 2/(n_in + n_out) (2, not 1)",
        ),
        ("glorot_normal", _normal(lambda i, o: np.sqrt(2 / i)), "this is He's initialisation"),
        ("glorot_normal", _normal(lambda i, o: 2 / (i + o)), "2/(n_in + n_out) is the variance"),
        (
            "glorot_uniform",
            _uniform(lambda i, o: np.sqrt(3 / (i + o))),
            "limit is √(6/(n_in + n_out)) (6, not 3)",
        ),
        (
            "glorot_uniform",
            _uniform(lambda i, o: np.sqrt(2 / (i + o))),
            "you use the normal version's std",
        ),
        (
            "glorot_uniform",
            _normal(lambda i, o: np.sqrt(2 / (i + o))),
            "use np.random.uniform(-limit, limit, size) for a uniform distribution",
        ),
        (
            "he_normal",
            lambda i, o: np.random.randn(o, i) * np.sqrt(2 / i),
            "the shape is (n_in, n_out), as used in x @ W",
        ),
        ("he_normal", lambda i, o: np.full((i, o), 0.05), "all values are equal"),
        (
            "glorot_normal",
            lambda i, o: np.random.default_rng().normal(0, np.sqrt(2 / (i + o)), (i, o)),
            "use np.random.randn / np.random.uniform so that np.random.seed reproduces it",
        ),
        (
            "he_normal",
            lambda i, o: np.sqrt(2 / i) * (np.random.randn(i, o) + 0.2),
            "draw from a distribution with mean 0",
        ),
    ],
)
def test_initialiser_mistakes_fail_with_their_hint(item, fn, hint, capsys):
    out = _report(item, capsys, **{item: fn})
    assert f"[FAIL] {item}" in out
    assert hint in out


@pytest.mark.parametrize("item", sorted(INITIALISERS))
def test_initialiser_missing_and_unimplemented(item, capsys):
    assert f"`{item}` is not defined" in _report(item, capsys)
    out = _report(item, capsys, **{item: _not_implemented})
    assert "not implemented yet (NotImplementedError)" in out


# --------------------------------------------------------------------------------------------
# 2-4 / 2-5-2: MNIST accuracy (real test split; no training needed)
# --------------------------------------------------------------------------------------------


class LookupNet:
    """Scores that put ``labels[i]`` first for test image i: a 'trained' network of known accuracy.

    With the real labels it is perfect; with a constant label it is at chance level.
    """

    def __init__(self, x, labels):
        self.table = {row.tobytes(): int(label) for row, label in zip(x, labels)}

    def predict(self, x):
        return np.eye(10)[[self.table[row.tobytes()] for row in x]]


class ClassMeanNet:
    """Nearest class mean on the training set: learned, about 0.82 accurate, below 0.95."""

    def __init__(self, x, t):
        self.means = np.stack([x[t == k].mean(axis=0) for k in range(10)])

    def predict(self, x):
        return x @ self.means.T - 0.5 * np.sum(self.means**2, axis=1)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(normalize=True, flatten=True, one_hot_label=False)


@pytest.mark.slow
def test_mnist_accuracy_thresholds_and_hints(mnist, capsys):
    (x_train, t_train), (x_test, t_test) = mnist
    wrong = t_test.copy()
    wrong[:450] = (wrong[:450] + 1) % 10  # accuracy 0.955: between the two thresholds
    assert _run("mnist_accuracy_2_4", network=LookupNet(x_test, wrong))
    out = _report("mnist_accuracy_2_5_2", capsys, network=LookupNet(x_test, wrong))
    assert "0.9550 (threshold 0.96)" in out
    assert "Try more epochs, another learning rate" in out
    out = _report("mnist_accuracy_2_4", capsys, network=LookupNet(x_test, np.zeros_like(t_test)))
    assert "This is chance level" in out
    out = _report(
        "mnist_accuracy_2_4", capsys, network=ClassMeanNet(x_train[:10000], t_train[:10000])
    )
    assert "Try more epochs, another learning rate" in out


@pytest.mark.slow
def test_mnist_accuracy_rejects_wrong_score_shapes_and_a_missing_network(mnist, capsys):
    _, (x_test, t_test) = mnist
    net = LookupNet(x_test, t_test)
    net.predict = lambda x: np.zeros((len(x), 3))
    out = _report("mnist_accuracy_2_4", capsys, network=net)
    assert "network.predict(x) returns (N, 10) scores" in out
    assert "`network` is not defined" in _report("mnist_accuracy_2_5_2", capsys)
