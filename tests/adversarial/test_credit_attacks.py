"""Credit without an implementation (issue 13, findings 1, 2, 3 and 7).

Each test reproduces an attack of the red-team pass against the real items and asserts that
it earns no more than a blank notebook would. The sandboxed ones run the real pipeline
(nbclient inside bubblewrap) on real MNIST.
"""

from __future__ import annotations

import base64
import io
from dataclasses import replace

import nbformat
import numpy as np
import pytest

from adversarial.tiny import _meta
from grader.engine.spec import Assignment, TrustedData
from grader.jail import sandbox_policy
from grader.specs import all_assignments, get_assignment

SANDBOX_SETUP = """\
import base64, io
from collections import OrderedDict
import numpy as np
from grader.student import check, load_mnist
(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True)
"""

LAYERS = """\
import numpy as np
from collections import OrderedDict

class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
    def forward(self, x):
        return x @ self.W + self.b

class Relu:
    def forward(self, x):
        return np.maximum(x, 0)

class Net:
    def __init__(self, *layers):
        self.layers = OrderedDict((f"L{i}", l) for i, l in enumerate(layers))
    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x
"""

_layers: dict = {}
exec(LAYERS, _layers)  # the same classes for the in-process tests below
Affine, Relu, Net = _layers["Affine"], _layers["Relu"], _layers["Net"]

# Honest control: a ridge classifier trained in the graded run on the sandbox's own file.
HONEST = """\
X = np.c_[x_train[:20000].astype(np.float64), np.ones(20000)]
coef = np.linalg.solve(X.T @ X + 10.0 * np.eye(785), X.T @ np.eye(10)[t_train[:20000]])
network = Net(Affine(coef[:-1], coef[-1]))
"""

# Finding 1: weights fitted outside the graded run on the public test images and labels (a
# random 784 -> H ReLU layer from a seed, its read-out by one ridge solve), pasted as text.
PASTED = """\
_W1 = np.random.default_rng(0).standard_normal((784, {hidden})) * 0.05
_z = np.load(io.BytesIO(base64.b64decode("{blob}")))
network_pasted = Net(Affine(_W1, np.zeros({hidden})), Relu(), Affine(_z["W2"], _z["b2"]))
"""


def _offline_fit(hidden: int) -> str:
    """The read-out of the random-feature network fitted on the canonical test split."""

    data = TrustedData()
    x, t = data.mnist_test_images.astype(np.float64), data.mnist_test_labels
    W1 = np.random.default_rng(0).standard_normal((784, hidden)) * 0.05
    h = np.c_[np.maximum(x @ W1, 0), np.ones(len(x))]
    coef = np.linalg.solve(h.T @ h + 1.0 * np.eye(hidden + 1), h.T @ np.eye(10)[t])
    own = np.mean(np.argmax(h @ coef, axis=1) == t)
    assert own > 0.96, own  # the attack really is a 3/3 network on the public test images
    buf = io.BytesIO()
    np.savez(buf, W2=coef[:-1].astype(np.float32), b2=coef[-1].astype(np.float32))
    return base64.b64encode(buf.getvalue()).decode()


def _notebook(cells: list[tuple[str, dict | None]]):
    """A notebook of ``cells`` (source, nbgrader metadata or None); the cells
    with nbgrader metadata form the released notebook (the others are the student's)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(s, metadata=m or {}) for s, m in cells]
    released = nbformat.from_dict(nb)
    released.cells = [c for c in released.cells if c.metadata.get("nbgrader")]
    return nb, released


def _grade(spec: Assignment, nb, released):
    from adversarial.uids import private_uid_base, worker_index
    from grader.engine import pipeline
    from grader.jail import bwrap_usable

    if not bwrap_usable()[0]:
        pytest.skip("bubblewrap cannot run here")
    with private_uid_base():
        res = pipeline.grade_notebook(
            spec,
            nbformat.writes(nb).encode(),
            policy=sandbox_policy(False),
            slot=70 + worker_index(),
            released=released,
        )
    assert res.status == "graded", res.reason
    return {i.id: i for i in res.items}


def _item(assignment_id: str, item_id: str):
    return next(it for it in get_assignment(assignment_id).items if it.id == item_id)


def _on(item, variable: str, new_id: str, name: str = "network"):
    """The real item probing the notebook variable ``variable`` instead of ``name``."""
    return replace(item, id=new_id, probe=item.probe.replace(name, variable))


@pytest.mark.sandbox
@pytest.mark.slow
def test_mnist_weights_fitted_outside_the_run_earn_nothing():
    """Finding 1: a network fitted on the public test images outside the graded run (99 %
    there) earns nothing; a network trained in the run on the sandbox's file keeps its
    credit, measured by the grader on test images the sandbox never held."""
    item = _item("2-4_multilayer_mnist", "mnist_accuracy_2_4")
    cells = [
        (SANDBOX_SETUP, _meta("setup", locked=True)),
        (LAYERS + HONEST, _meta("net_impl", solution=True)),
        (f'check("{item.id}", network=network)', _meta(item.id, grade=True, locked=True, points=3)),
        (PASTED.format(hidden=1000, blob=_offline_fit(1000)), None),
    ]
    nb, released = _notebook(cells)
    spec = Assignment(
        id="credit_mnist",
        title={"ja": "MNIST", "en": "MNIST"},
        items=(item, _on(item, "network_pasted", "pasted")),
        notebook_timeout=300.0,
        cell_timeout=120.0,
        uses_mnist=True,
    )
    by_id = _grade(spec, nb, released)
    honest, pasted = by_id[item.id], by_id["pasted"]
    assert 0 < honest.points < 3, honest.message  # ridge: ~0.85, partial credit
    assert "agree on 100.00%" in honest.message["en"], honest.message
    assert pasted.points == 0, pasted.message
    assert pasted.measured_error is not None and pasted.measured_error > 0.5, (
        pasted.message
    )  # chance level


# --- finding 3: fit items without a network ----------------------------------------------------


def _fit_item(item_id: str):
    return next(it for a in all_assignments() for it in a.items if it.id == item_id)


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_fit_with_predict_sin_earns_nothing(seed):
    """``network.predict = np.sin`` on an untrained net: RMSE 0 against the noise-free target
    used to earn 1/1; the trusted side now scores the network rebuilt from its parameters."""
    from mutations.harness import run_item

    from reference.networks import TwoLayerNet

    network = TwoLayerNet(1, 20, 1, task="regression", weight_init_std=1.0, seed=1)
    network.predict = np.sin
    v = run_item(_fit_item("regression_fit"), {"network": network}, seed)
    assert v.fraction == 0.0, v.message
    assert "does not return what the parameters" in v.message["en"], v.message


def test_year_prediction_lookup_of_the_public_test_split_earns_nothing():
    """A dictionary from the set-up cell's test rows to their targets used to get R^2 = 1.000
    (2/2): the graded split was the fixed seed-0 split the kernel already holds."""
    from mutations.harness import run_item

    from grader.student.yearprediction import make_synthetic
    from reference.networks import TwoLayerNet

    d = make_synthetic()
    x_mean, x_std = d.x_train.mean(axis=0), d.x_train.std(axis=0)
    t_mean, t_std = d.t_train.mean(), d.t_train.std()

    def standardize(x, mean, std):
        return (x - mean) / std

    table = {
        standardize(row.astype(np.float64), x_mean, x_std).tobytes(): (t - t_mean) / t_std
        for row, t in zip(d.x_test, d.t_test[:, 0])
    }
    network = TwoLayerNet(90, 32, 1, task="regression", weight_init_std=0.1, seed=0)
    network.predict = lambda x: np.array([[table.get(r.tobytes(), 0.0)] for r in x])
    ns = dict(
        network=network,
        standardize=standardize,
        x_mean=x_mean.astype(np.float64),
        x_std=x_std.astype(np.float64),
        t_mean=t_mean,
        t_std=t_std,
    )
    v = run_item(_fit_item("year_prediction_fit"), ns, 0)
    assert v.fraction == 0.0, v.message


# --- finding 7: bounded trusted work ------------------------------------------------------------


class _BN:
    def __init__(self, n):
        self.gamma, self.beta = np.ones(n), np.zeros(n)
        self.running_mean, self.running_var = np.zeros(n), np.ones(n)

    def forward(self, x, train_flg=False):
        return (x - self.running_mean) / np.sqrt(self.running_var + 1e-7)


def _mnist_score(network, monkeypatch=None):
    """The real 2-8 accuracy item's probe run in-process on ``network``, then its scorer."""
    from grader.engine.spec import ScoreContext

    item = _item("2-8_deep_optimization", "mnist_accuracy_2_8")
    data = TrustedData()
    g = {"network": network, "MNIST_PROBE_X": data.mnist_probe_images(), "out": {}}
    exec(compile(item.probe, "<probe>", "exec"), g)
    outputs = {k: np.asarray(v) for k, v in g["out"].items()}
    return item.score(ScoreContext({}, outputs, data, item.id))


def test_huge_network_is_refused_before_the_trusted_side_evaluates_it():
    """The red-team network: 5.9M weights with a BatchNormalization layer and a predict that
    returns zeros (it forced 18-46 s of float64 passes on the trusted side). Now refused by
    the size cap near the course's largest network, with the reason."""
    from grader.specs._provenance import MAX_PARAM_ELEMENTS

    rng = np.random.default_rng(0)
    hidden = 7500  # 784 * 7500 + 7500 * 10 = 5.96M weights
    net = Net(
        Affine(rng.standard_normal((784, hidden)) * 0.01, np.zeros(hidden)),
        _BN(hidden),
        Relu(),
        Affine(rng.standard_normal((hidden, 10)) * 0.01, np.zeros(10)),
    )
    net.predict = lambda x, train_flg=False: np.zeros((len(x), 10))
    v = _mnist_score(net)
    assert v.fraction == 0.0
    assert f"more than {MAX_PARAM_ELEMENTS} parameters" in v.message["en"], v.message
    assert MAX_PARAM_ELEMENTS <= 1_000_000


def test_trusted_evaluation_stops_at_its_cpu_budget(monkeypatch):
    """A network within the cap still cannot hold the trusted side longer than the scoring
    budget: past it the item gets no credit, with a message saying so."""
    from grader.specs import _provenance

    monkeypatch.setattr(_provenance, "SCORE_CPU_SECONDS", -1.0)  # already spent
    rng = np.random.default_rng(0)
    net = Net(Affine(rng.standard_normal((784, 10)) * 0.01, np.zeros(10)))
    v = _mnist_score(net)
    assert v.fraction == 0.0
    assert "budget" in v.message["en"] and "CPU" in v.message["ja"], v.message


# --- finding 2: a backward by finite differences ------------------------------------------------

NUMERIC_SWL = """\
import numpy as np

def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
        it.iternext()
    return grad

def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)

class SoftmaxWithLoss:
    def forward(self, x, t):
        self.x, self.t = x.copy(), t
        return -np.sum(t * np.log(softmax(x))) / len(x)

    def backward(self, dout=1):
        return dout * numerical_gradient(lambda z: self.forward(z, self.t), self.x.copy())

class AnalyticSoftmaxWithLoss:
    def forward(self, x, t):
        self.y, self.t = softmax(x), t
        return -np.sum(t * np.log(self.y + 1e-7)) / len(x)

    def backward(self, dout=1):
        return dout * (self.y - self.t) / len(self.t)
"""


def test_numeric_softmax_with_loss_backward_earns_no_backward_credit():
    """The red-team backward (the set-up cell's numerical_gradient on the layer's own forward)
    matched the small probe to 5.6e-11 and earned 3/3; the large probe's alarm now stops it,
    with a line saying why. The analytic layer keeps full marks."""
    from mutations.harness import run_item

    ns: dict = {}
    exec(NUMERIC_SWL, ns)
    item = _item("3-1-2_softmax_with_loss", "softmax_with_loss_backward")
    v = run_item(item, ns, 0)
    assert v.fraction == 0.0, v.message
    assert "finite differences earns no backward credit" in v.message["en"], v.message
    assert "数値微分" in v.message["ja"]
    ok = run_item(item, {**ns, "SoftmaxWithLoss": ns["AnalyticSoftmaxWithLoss"]}, 0)
    assert ok.fraction == 1.0, ok.message


@pytest.mark.sandbox
def test_numeric_backward_is_stopped_inside_the_sandbox():
    """The same in the real sandboxed kernel: the alarm fires there too."""
    item = _item("3-1-2_softmax_with_loss", "softmax_with_loss_backward")
    cells = [
        ("import numpy as np\nfrom grader.student import check", _meta("setup", locked=True)),
        (NUMERIC_SWL, _meta("swl_impl", solution=True)),
        (f'check("{item.id}")', _meta(item.id, grade=True, locked=True, points=3)),
    ]
    nb, released = _notebook(cells)
    spec = Assignment(
        id="credit_backward",
        title={"ja": "逆伝播", "en": "backward"},
        items=(item, _on(item, "AnalyticSoftmaxWithLoss", "analytic", "SoftmaxWithLoss")),
        notebook_timeout=120.0,
        cell_timeout=60.0,
    )
    by_id = _grade(spec, nb, released)
    assert by_id[item.id].points == 0, by_id[item.id].message
    assert "finite differences" in by_id[item.id].message["en"]
    assert by_id["analytic"].points == 3, by_id["analytic"].message


NUMERIC_BN = """\
class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta = gamma, beta

    def _f(self, x, gamma, beta):
        xc = x - x.mean(axis=0)
        return gamma * xc / np.sqrt((xc**2).mean(axis=0) + 1e-7) + beta

    def forward(self, x, train_flg=True):
        self.x = x.copy()
        return self._f(x, self.gamma, self.beta)

    def backward(self, dout):
        x, g, b = self.x.copy(), self.gamma.copy(), self.beta.copy()
        self.dgamma = numerical_gradient(lambda v: np.sum(self._f(x, v, b) * dout), g)
        self.dbeta = numerical_gradient(lambda v: np.sum(self._f(x, g, v) * dout), b)
        return numerical_gradient(lambda v: np.sum(self._f(v, g, b) * dout), x)
"""


def test_numeric_batchnorm_backward_earns_no_backward_credit():
    """BatchNorm's dx, dgamma and dbeta by central differences (3/3 before, bit-identical to
    the grader's own numeric reference) earn nothing now."""
    from mutations.harness import run_item

    ns: dict = {}
    exec(NUMERIC_SWL + NUMERIC_BN, ns)
    item = _item("2-7_batch_norm", "batchnorm_backward")
    v = run_item(item, ns, 0)
    assert v.fraction == 0.0, v.message
    assert "finite differences earns no backward credit" in v.message["en"], v.message


NUMERIC_OTHERS = """\
def matmul_backward(X, W, dY):
    f = lambda X_, W_: np.sum((X_ @ W_) * dY)
    return (numerical_gradient(lambda v: f(v, W), X.copy()),
            numerical_gradient(lambda v: f(X, v), W.copy()))

def square_graph_backward(a, x, y):
    z = lambda a_, x_, y_: np.sum((a_ * x_ - y_) ** 2)
    return (numerical_gradient(lambda v: z(v, x, y), a.copy()),
            numerical_gradient(lambda v: z(a, v, y), x.copy()),
            numerical_gradient(lambda v: z(a, x, v), y.copy()))

class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def _f(self, x, W, b):
        return x.reshape(len(x), -1) @ W + b

    def forward(self, x):
        self.x = x.copy()
        return self._f(x, self.W, self.b)

    def backward(self, dout):
        x, W, b = self.x.copy(), self.W.copy(), self.b.copy()
        self.dW = numerical_gradient(lambda v: np.sum(self._f(x, v, b) * dout), W)
        self.db = numerical_gradient(lambda v: np.sum(self._f(x, W, v) * dout), b)
        return numerical_gradient(lambda v: np.sum(self._f(v, W, b) * dout), x)
"""


@pytest.mark.parametrize(
    "assignment_id, item_id",
    [
        ("2-1_autodiff", "matmul_backward"),
        ("2-1_autodiff", "square_graph_backward"),
        ("3-1-1_affine_layer", "affine_backward"),
    ],
)
def test_numeric_backward_of_other_items_earns_nothing(assignment_id, item_id):
    from mutations.harness import run_item

    ns: dict = {}
    exec(NUMERIC_SWL + NUMERIC_OTHERS, ns)
    v = run_item(_item(assignment_id, item_id), ns, 0)
    assert v.fraction == 0.0, v.message
    assert "finite differences earns no backward credit" in v.message["en"], v.message


NUMERIC_TWO_LAYER = """\
def sigmoid(x):
    return 1 / (1 + np.exp(-x))

class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {"W1": np.zeros((input_size, hidden_size)), "b1": np.zeros(hidden_size),
                       "W2": np.zeros((hidden_size, output_size)), "b2": np.zeros(output_size)}

    def predict(self, x):
        p = self.params
        return sigmoid(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]

    def loss(self, x, t):
        return np.sum((self.predict(x) - t) ** 2) / (2 * len(x))

    def gradient(self, x, t):
        return {k: numerical_gradient(lambda _: self.loss(x, t), v)
                for k, v in self.params.items()}
"""


def test_numeric_two_layer_gradient_earns_nothing():
    """TwoLayerNet.gradient by central differences of its own loss (the notebook's
    numerical_gradient method, full marks before) earns nothing."""
    from mutations.harness import run_item

    ns: dict = {}
    exec(NUMERIC_SWL + NUMERIC_TWO_LAYER, ns)
    v = run_item(_item("2-2-1_two_layer_regression", "regression_gradient"), ns, 0)
    assert v.fraction == 0.0, v.message
    assert "finite differences earns no backward credit" in v.message["en"], v.message


@pytest.mark.sandbox
@pytest.mark.slow
def test_mnist_jobs_at_once_keep_their_own_code_and_a_notebook_keeps_its_score():
    """Two MNIST jobs graded at the same time in one process (``grader grade --jobs 2``, two
    threads) each score with their own secret code: a job scored with the other's code would
    answer at chance. Grading the same notebook again gives the same code, hence the same
    accuracy (the code is keyed by the installation's secret and the notebook)."""
    from concurrent.futures import ThreadPoolExecutor

    item = _item("2-4_multilayer_mnist", "mnist_accuracy_2_4")
    spec = Assignment(
        id="credit_mnist_pair",
        title={"ja": "MNIST", "en": "MNIST"},
        items=(item,),
        notebook_timeout=300.0,
        cell_timeout=120.0,
        uses_mnist=True,
    )

    def notebook(extra: str):
        return _notebook(
            [
                (SANDBOX_SETUP, _meta("setup", locked=True)),
                (LAYERS + HONEST + extra, _meta("net_impl", solution=True)),
                (
                    f'check("{item.id}", network=network)',
                    _meta(item.id, grade=True, locked=True, points=3),
                ),
            ]
        )

    first, second = notebook(""), notebook("# another notebook, another code\n")
    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.map(lambda nb: _grade(spec, *nb)[item.id], [first, second])
    for res in (a, b):
        assert "agree on 100.00%" in res.message["en"], res.message
        assert res.measured_error is not None and res.measured_error < 0.3, (
            res.message
        )  # far from chance (0.9)
    again = _grade(spec, *first)[item.id]
    assert again.measured_error == a.measured_error, (again.message, a.message)


def test_job_code_is_keyed_by_installation_and_notebook(tmp_path, monkeypatch):
    """``job_rng``: the same notebook draws the same code, another notebook or another
    installation's key another one; the key is made once, 32 bytes, mode 0600."""
    from grader.engine import mnist_sandbox

    monkeypatch.setenv("GRADER_STATE_DIR", str(tmp_path / "one"))
    perm = lambda nb: mnist_sandbox.job_rng(nb).permutation(784)  # noqa: E731
    same = perm(b"notebook A")
    assert np.array_equal(same, perm(b"notebook A"))
    assert not np.array_equal(same, perm(b"notebook B"))
    key = tmp_path / "one" / mnist_sandbox.KEY_NAME
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    monkeypatch.setenv("GRADER_STATE_DIR", str(tmp_path / "two"))
    assert not np.array_equal(same, perm(b"notebook A"))
