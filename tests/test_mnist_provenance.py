"""MNIST accuracy items: predictions must come from the network's own parameters.

Unit level (fast): the real probe source (``PROBE_MNIST + PROBE_PROVENANCE``) runs in-process
on small course-style networks, its outputs go through the engine's array reader, and the
real scorer judges them against a small synthetic ``mnist.npz`` (a teacher network labels
random images, so the honest network is exactly right). End to end (sandbox): one real
pipeline run, on real MNIST, of a notebook with an honest weak network, an untrained network
whose ``predict`` pastes the true test labels, and the weak network with its mistakes
corrected from the labels.
"""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict
from dataclasses import replace

import nbformat
import numpy as np
import pytest

from grader.engine.spec import Assignment, ProbeOutputError, ScoreContext, TrustedData
from grader.jail import sandbox_policy
from grader.jail.outputs import load_array
from grader.specs._checks import PROBE_MNIST, mnist_accuracy_item
from grader.specs._provenance import MIN_AGREEMENT, PROBE_PROVENANCE, Unrebuildable, rebuild

N_TEST, D, C = 300, 784, 10
ITEM = mnist_accuracy_item("mnist_accuracy_2_4", floor=0.80, threshold=0.95)

# ------------------------------------------------------------------ course-style layers


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x, train_flg=True):
        return x @ self.W + self.b


class Relu:
    def forward(self, x, train_flg=True):
        return np.maximum(x, 0)


class BatchNormalization:
    def __init__(self, gamma, beta, running_mean, running_var, eps=1e-7):
        self.gamma, self.beta, self.eps = gamma, beta, eps
        self.running_mean, self.running_var = running_mean, running_var

    def forward(self, x, train_flg=True):
        xn = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
        return self.gamma * xn + self.beta


class Dropout:
    def __init__(self, dropout_ratio=0.5, inverted=False):
        self.dropout_ratio, self.inverted = dropout_ratio, inverted

    def forward(self, x, train_flg=True):
        return x if self.inverted else x * (1.0 - self.dropout_ratio)


class Net:
    def __init__(self, layers):
        self.layers = OrderedDict((f"L{i}", layer) for i, layer in enumerate(layers))

    def predict(self, x, train_flg=False):
        for layer in self.layers.values():
            x = layer.forward(x, train_flg)
        return x


def mlp(rng, hidden=16, bn=False, dropout=None, dtype=np.float64) -> Net:
    """784 -> hidden -> [BN] -> ReLU -> [Dropout] -> 10, random weights."""
    W1 = (rng.standard_normal((D, hidden)) * 0.1).astype(dtype)
    b1 = (rng.standard_normal(hidden) * 0.1).astype(dtype)
    W2 = rng.standard_normal((hidden, C)).astype(dtype)
    layers = [Affine(W1, b1)]
    if bn:
        g = rng.uniform(0.5, 1.5, hidden).astype(dtype)
        layers.append(
            BatchNormalization(
                g, rng.standard_normal(hidden).astype(dtype), rng.standard_normal(hidden) * 0.1,
                rng.uniform(0.5, 2.0, hidden),
            )
        )  # fmt: skip
    layers.append(Relu())
    if dropout is not None:
        layers.append(dropout)
    layers.append(Affine(W2, np.zeros(C, dtype=dtype)))
    return Net(layers)


# ------------------------------------------------------------------ fixtures and helpers


@pytest.fixture(scope="module")
def teacher() -> Net:
    return mlp(np.random.default_rng(1), bn=True, dropout=Dropout(0.2))


@pytest.fixture(scope="module")
def data(tmp_path_factory, teacher) -> TrustedData:
    """A small mnist.npz: random uint8 images labelled by ``teacher`` (its accuracy is 1)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(N_TEST, 28, 28), dtype=np.uint8)
    x_float = x.reshape(N_TEST, -1).astype(np.float32) / 255.0
    labels = np.argmax(teacher.predict(x_float), axis=1).astype(np.uint8)
    path = tmp_path_factory.mktemp("mnist") / "small.npz"
    np.savez(path, x_train=x[:10], y_train=labels[:10], x_test=x, y_test=labels)
    return TrustedData(mnist_path=path)


def probe_outputs(network, data: TrustedData) -> dict[str, np.ndarray]:
    """The item's probe run in-process on ``network``; outputs read back as the engine does."""
    g = {"network": network, "MNIST_PROBE_X": data.mnist_test_images.copy(), "out": {}}
    exec(compile(ITEM.probe, "<probe>", "exec"), g)
    arrays = {}
    for k, v in g["out"].items():
        buf = io.BytesIO()
        np.save(buf, np.asarray(v), allow_pickle=False)
        arrays[k] = load_array(buf.getvalue(), k)
    return arrays


def score(network, data: TrustedData, outputs: dict | None = None):
    outs = probe_outputs(network, data) if outputs is None else outputs
    return ITEM.score(ScoreContext({}, outs, data, ITEM.id))


class Pasted(Net):
    """An untrained net whose predict looks the answers up in a table of test images."""

    def __init__(self, layers, table):
        super().__init__(layers)
        self.table = table

    def predict(self, x, train_flg=False):
        keys = [hashlib.sha1(row.tobytes()).hexdigest() for row in x]
        return np.eye(C)[[self.table[k] for k in keys]]


# ------------------------------------------------------------------ unit tests


def test_probe_text_is_part_of_the_item():
    assert ITEM.probe == PROBE_MNIST + PROBE_PROVENANCE


def test_honest_network_full_credit(teacher, data):
    v = score(teacher, data)
    assert v.fraction == 1.0, v.message
    assert "100.00%" in v.message["en"]


def test_float32_network_and_inverted_dropout(data):
    rng = np.random.default_rng(1)
    net = mlp(rng, bn=True, dropout=Dropout(0.5, inverted=True), dtype=np.float32)
    outs = probe_outputs(net, data)
    v = score(net, data, outs)
    assert "do not come from" not in v.message["en"], v.message
    agree = float(v.message["en"].rsplit("agree on ", 1)[1].split("%")[0]) / 100
    assert agree >= MIN_AGREEMENT


def test_row_vector_biases_and_running_stats_are_accepted(teacher, data):
    """Keepdims-style (1, M) arrays broadcast like (M,) in the student's forward."""
    layers = list(teacher.layers.values())
    affine, bn = layers[0], layers[1]
    rows = [
        Affine(affine.W, affine.b.reshape(1, -1)),
        BatchNormalization(
            bn.gamma.reshape(1, -1), bn.beta, bn.running_mean.reshape(1, -1),
            bn.running_var.reshape(1, -1), np.array([bn.eps]),
        ),
    ]  # fmt: skip
    v = score(Net(rows + layers[2:]), data)
    assert v.fraction == 1.0, v.message


def test_pasted_labels_on_untrained_network_get_nothing(data):
    untrained = mlp(np.random.default_rng(7))
    x = data.mnist_test_images
    table = {
        hashlib.sha1(row.tobytes()).hexdigest(): int(t) for row, t in zip(x, data.mnist_test_labels)
    }
    net = Pasted(list(untrained.layers.values()), table)
    assert np.all(np.argmax(net.predict(x), axis=1) == data.mnist_test_labels)
    v = score(net, data)
    assert v.fraction == 0.0
    assert "do not come from the network's own parameters" in v.message["en"]
    assert "ネットワーク" in v.message["ja"] or "network" in v.message["ja"]
    assert v.hint is not None and v.hint.id == "mnist_provenance"


def test_thirty_percent_flipped_is_disagreement(teacher, data):
    rng = np.random.default_rng(3)
    flip = rng.random(N_TEST) < 0.3
    wrapped = Net(list(teacher.layers.values()))
    inner = wrapped.predict

    def predict(x, train_flg=False):
        s = inner(x, train_flg)
        idx = np.flatnonzero(flip[: len(x)])
        s[idx] = np.roll(s[idx], 1, axis=1)  # another class wins on those rows
        return s

    wrapped.predict = predict
    v = score(wrapped, data)
    assert v.fraction == 0.0
    assert "do not come from" in v.message["en"]
    assert v.measured_error == pytest.approx(np.mean(flip), abs=0.02)


def test_small_disagreement_gains_nothing(data):
    """Within the agreement bound, faked corrections do not count: the trusted accuracy
    (lower) is the one credited."""
    net = mlp(np.random.default_rng(11))  # not the teacher: many answers wrong
    labels = data.mnist_test_labels
    own = np.argmax(net.predict(data.mnist_test_images), axis=1)
    wrong = np.flatnonzero(own != labels)[:2]  # 2 of 300 < 1% disagreement
    inner = net.predict

    def predict(x, train_flg=False):
        s = inner(x, train_flg)
        s[wrong, labels[wrong]] = 1e9
        return s

    net.predict = predict
    v = score(net, data)
    trusted = float(np.mean(own == labels))
    assert f"Accuracy {trusted:.4f}" in v.message["en"], v.message


def test_batch_norm_in_training_mode_inside_predict_is_named(teacher, data):
    """A genuine network whose BN ignores train_flg (batch statistics at inference): no
    credit, and the feedback names that mistake rather than suspecting pasted labels."""

    class BatchNormalization:  # the student's class, same name as the course's
        def __init__(self, bn):
            self.gamma, self.beta, self.eps = bn.gamma, bn.beta, bn.eps
            self.running_mean, self.running_var = bn.running_mean, bn.running_var

        def forward(self, x, train_flg=True):  # always the batch's own statistics
            xn = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + self.eps)
            return self.gamma * xn + self.beta

    layers = list(teacher.layers.values())
    v = score(Net([layers[0], BatchNormalization(layers[1])] + layers[2:]), data)
    assert v.fraction == 0.0
    assert "training mode inside predict" in v.message["en"], v.message
    assert v.hint is not None and v.hint.id == "bn_predict_train_mode"


def test_unknown_layer_class_gets_no_credit(teacher, data):
    class Swish:
        def forward(self, x, train_flg=True):
            return x / (1 + np.exp(-x))

    layers = list(teacher.layers.values())
    net = Net(layers[:-2] + [Swish()] + layers[-1:])
    v = score(net, data)
    assert v.fraction == 0.0
    assert "Swish" in v.message["en"] and "cannot rebuild" in v.message["en"]


def test_network_without_layers_reports_probe_error(teacher, data):
    class Bare:
        def predict(self, x):
            return teacher.predict(x)

    v = score(Bare(), data)
    assert v.fraction == 0.0
    assert "could not be read" in v.message["en"] and "layers" in v.message["en"]


def test_rebuild_checks_shapes_and_widths():
    W1, b1 = np.ones((784, 5)), np.zeros(5)
    with pytest.raises(Unrebuildable, match="expected 10"):
        rebuild(["Affine"], [{"W": W1, "b": b1}])
    with pytest.raises(Unrebuildable, match=r"b has shape \(4,\)"):
        rebuild(["Affine"], [{"W": np.ones((784, 10)), "b": np.zeros(4)}])
    with pytest.raises(Unrebuildable, match=r"W has shape \(700, 10\)"):
        rebuild(["Affine"], [{"W": np.ones((700, 10)), "b": np.zeros(10)}])
    with pytest.raises(Unrebuildable, match="NaN"):
        rebuild(["Affine"], [{"W": np.full((784, 10), np.nan), "b": np.zeros(10)}])
    with pytest.raises(Unrebuildable, match="running_var"):
        bn = {"gamma": np.ones(5), "beta": np.zeros(5), "running_mean": np.zeros(5)}
        rebuild(["Affine", "BatchNormalization"], [{"W": W1, "b": b1}, bn])
    with pytest.raises(Unrebuildable, match="constant multiple"):
        rebuild(["Affine", "Dropout"], [{"W": W1, "b": b1}, {"inference_out": np.eye(2, 4)}])


def test_rebuild_computes_the_course_forward():
    """Hand-built 3 -> 2 -> 10 net (input_size 3): BN with default eps, ReLU, scale 0.5."""
    W1 = np.array([[1.0, -1.0], [2.0, 0.0], [0.0, 1.0]])
    b1 = np.array([0.5, -0.5])
    bn = {
        "gamma": np.array([2.0, 1.0]),
        "beta": np.array([0.0, 1.0]),
        "running_mean": np.array([1.0, 0.0]),
        "running_var": np.array([4.0, 1.0]),
    }
    W2, b2 = np.arange(20.0).reshape(2, 10) / 10, np.zeros(10)
    net = rebuild(
        ["Affine", "BatchNorm", "ReLU", "Dropout", "Affine"],
        [{"W": W1, "b": b1}, bn, {}, {"inference_out": np.full((2, 4), 0.5)}, {"W": W2, "b": b2}],
        input_size=3,
    )
    x = np.array([[1.0, 1.0, 1.0]])
    a = x @ W1 + b1  # [3.5, 0.5]
    h = bn["gamma"] * (a - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-7) + bn["beta"]
    want = np.maximum(h, 0) * 0.5 @ W2 + b2
    np.testing.assert_allclose(net.scores(x), want, rtol=1e-12)


def _good_outputs(teacher, data) -> dict[str, np.ndarray]:
    return probe_outputs(teacher, data)


@pytest.mark.parametrize(
    "change, expect",
    [
        (lambda o: o.__setitem__("prov_index", o["prov_index"][:, :4]), "prov_index"),
        (lambda o: o["prov_index"].__setitem__((0, 1), 99), "prov_index"),
        (lambda o: o["prov_index"].__setitem__((0, 3), -1), "prov_index"),
        (lambda o: o.__setitem__("prov_values", o["prov_values"][:-1]), "too short"),
        (lambda o: o.__setitem__("prov_values", np.r_[o["prov_values"], 0.0]), "too long"),
        (lambda o: o.__setitem__("prov_names", np.array([300, 1])), "prov_names"),
        (lambda o: o.__setitem__("prov_values", o["prov_values"].astype(str)), None),
    ],
)
def test_malformed_provenance_arrays_are_rejected(teacher, data, change, expect):
    outs = _good_outputs(teacher, data)
    if expect is None:  # a string array never gets past the reader
        with pytest.raises(Exception, match="not numeric"):
            buf = io.BytesIO()
            np.save(buf, outs["prov_values"].astype(str))
            load_array(buf.getvalue(), "prov_values")
        return
    change(outs)
    with pytest.raises(ProbeOutputError, match=expect):
        score(teacher, data, outs)


def test_parameter_count_is_bounded(data):
    from grader.specs import _provenance

    outs = {
        "pred": np.zeros(N_TEST, dtype=np.int64),
        "prov_names": np.frombuffer(b"Affine", dtype=np.uint8),
        "prov_index": np.array([[0, 0, 1, _provenance.MAX_PARAM_ELEMENTS + 1, 0]]),
        "prov_values": np.zeros(_provenance.MAX_PARAM_ELEMENTS + 1),
    }
    v = score(None, data, outs)
    assert v.fraction == 0.0 and "Too many parameters" in v.message["en"]


# ------------------------------------------------------------------ end to end (sandbox)

E2E_SETUP = """\
import hashlib
from collections import OrderedDict
import numpy as np
from grader.student import check, load_mnist
(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True)
"""

# Honest: a ridge-regression classifier as a one-Affine network (about 85% on MNIST).
E2E_HONEST = """\
class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
    def forward(self, x):
        return x @ self.W + self.b

class Net:
    def __init__(self, W, b):
        self.params = {"W1": W, "b1": b}
        self.layers = OrderedDict(Affine1=Affine(W, b))
    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

X = np.c_[x_train.astype(np.float64), np.ones(len(x_train))]
Y = np.eye(10)[t_train]
coef = np.linalg.solve(X.T @ X + 10.0 * np.eye(X.shape[1]), X.T @ Y)
network = Net(coef[:-1], coef[-1])
print("own accuracy", np.mean(network.predict(x_test).argmax(axis=1) == t_test))
"""

# The attacks: labels pasted (as an image-hash table built on the host) into predict (images
# not in the table answer 0: the sandbox holds no test images any more).
E2E_ATTACK = """\
TABLE = dict(zip({keys!r}.split(), map(int, {labels!r})))

def _lookup(x):
    return np.eye(10)[[TABLE.get(hashlib.sha1(r.tobytes()).hexdigest()[:16], 0) for r in x]]

network_paste = Net(0.01 * np.random.randn(784, 10), np.zeros(10))  # never trained
network_paste.predict = _lookup

network_fix = Net(network.params["W1"], network.params["b1"])  # the honest weights
network_fix.predict = lambda x: network.predict(x) + 1e6 * _lookup(x)
"""


def _e2e_notebook(keys: str, labels: str):
    from adversarial.tiny import _meta

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = [
        (E2E_SETUP, _meta("setup", locked=True)),
        (E2E_HONEST, _meta("net_impl", solution=True)),
    ]
    check = 'check("mnist_accuracy_2_4", network=network)'
    cells.append((check, _meta(ITEM.id, grade=True, locked=True, points=3)))
    nb.cells = [nbformat.v4.new_code_cell(src, metadata=meta) for src, meta in cells]
    released = nbformat.from_dict(nb)
    attack = E2E_ATTACK.format(keys=keys, labels=labels)
    nb.cells.insert(2, nbformat.v4.new_code_cell(attack))
    return nb, released


def _item_on(variable: str, item_id: str):
    """The real accuracy item, probing the notebook variable ``variable`` instead."""
    return replace(ITEM, id=item_id, probe=ITEM.probe.replace("network", variable))


@pytest.mark.sandbox
@pytest.mark.slow
def test_e2e_pasted_labels_score_nothing(tmp_path):
    from adversarial.uids import private_uid_base, worker_index

    from grader.engine import pipeline
    from grader.jail import bwrap_usable

    if not bwrap_usable()[0]:
        pytest.skip("bubblewrap cannot run here")
    data = TrustedData()
    images, labels = data.mnist_test_images, data.mnist_test_labels
    keys = " ".join(hashlib.sha1(r.tobytes()).hexdigest()[:16] for r in images)
    assert len(set(keys.split())) == len(images)  # the table really identifies each image
    nb, released = _e2e_notebook(keys, "".join(map(str, labels)))
    spec = Assignment(
        id="provenance_e2e",
        title={"ja": "来歴", "en": "provenance"},
        items=(ITEM, _item_on("network_paste", "paste"), _item_on("network_fix", "fix")),
        notebook_timeout=300.0,
        cell_timeout=120.0,
        uses_mnist=True,
    )
    with private_uid_base():
        res = pipeline.grade_notebook(
            spec,
            nbformat.writes(nb).encode(),
            policy=sandbox_policy(False),
            slot=60 + worker_index(),
            released=released,
        )
    assert res.status == "graded", res.reason
    by_id = {i.id: i for i in res.items}
    honest, paste, fix = by_id[ITEM.id], by_id["paste"], by_id["fix"]
    assert 0 < honest.points < 3, honest.message  # ~0.85: partial credit, and provenance holds
    assert "agree on 100.00%" in honest.message["en"], honest.message
    for attacked in (paste, fix):
        assert attacked.points == 0, attacked.message
        assert "do not come from the network's own parameters" in attacked.message["en"]
        assert attacked.hint and attacked.hint["id"] == "mnist_provenance"
    print({i.id: (i.points, i.message["en"]) for i in res.items})


def test_e2e_notebook_source_is_valid(tmp_path):
    """The end-to-end notebook compiles (cheap guard for the slow test's fixtures)."""
    nb, released = _e2e_notebook("a b", "01")
    for cell in nb.cells:
        compile(cell.source, "<cell>", "exec")
    assert len(released.cells) == len(nb.cells) - 1


# ------------------------------------------------------------------ credit on real test images


class _Relabelled(TrustedData):
    """The real MNIST test images with labels chosen by the test."""

    def __init__(self, path, labels):
        super().__init__(mnist_path=path)
        self._labels = labels

    @property
    def mnist_test_labels(self):
        return self._labels


@pytest.mark.parametrize(
    "item_id",
    ["mnist_accuracy_2_4", "mnist_accuracy_2_5_2", "mnist_accuracy_2_8", "mnist_accuracy_2_10"],
)
def test_accuracy_credit_with_provenance(item_id):
    """Each course item, on the real test images: a network whose own predictions agree gets
    credit by accuracy (full at the threshold, partial below, none at the floor); the labels
    are the network's predictions with a chosen fraction changed."""
    from mnist_files import CANONICAL_FILES

    from grader.specs import all_assignments

    if not CANONICAL_FILES:
        pytest.skip("no canonical mnist.npz")
    item = next(it for a in all_assignments() for it in a.items if it.id == item_id)
    net = mlp(np.random.default_rng(5))
    base = TrustedData(mnist_path=CANONICAL_FILES[0])
    g = {"network": net, "MNIST_PROBE_X": base.mnist_test_images.copy(), "out": {}}
    exec(compile(item.probe, "<probe>", "exec"), g)
    outs = g["out"]
    own = outs["pred"]
    rng = np.random.default_rng(0)

    def verdict(acc: float, outputs=outs):
        labels = own.copy()
        wrong = rng.choice(len(own), size=round((1 - acc) * len(own)), replace=False)
        labels[wrong] = (labels[wrong] + 1) % 10
        data = _Relabelled(CANONICAL_FILES[0], labels)
        return item.score(ScoreContext({}, outputs, data, item_id))

    v = verdict(0.999)
    assert v.fraction == 1.0 and v.hint is None, v.message
    threshold = 1 - v.tolerance
    assert verdict(threshold).fraction == 1.0
    below = verdict(threshold - 0.02)
    assert 0.0 < below.fraction < 1.0 and below.hint.id == "accuracy_low"
    assert verdict(0.5).fraction == 0.0
    constant = Net([Affine(np.zeros((D, C)), np.eye(C)[3])])
    g = {"network": constant, "MNIST_PROBE_X": base.mnist_test_images.copy(), "out": {}}
    exec(compile(item.probe, "<probe>", "exec"), g)
    labels = np.arange(len(own)) % 10
    v = item.score(ScoreContext({}, g["out"], _Relabelled(CANONICAL_FILES[0], labels), item_id))
    assert v.fraction == 0.0 and v.hint.id == "predictions_constant", v.message
