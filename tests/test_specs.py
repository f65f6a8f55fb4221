"""The assignment specs against the solution notebooks and the reference implementation.

* every notebook in solutions/ has a spec, and its graded check cells carry exactly the spec's
  item ids and points;
* scoring the reference implementation's outputs (probes run in-process against namespaces of
  reference objects: the trusted side testing its own checks) earns full points on several
  seeds; trained-network items get reference networks trained here with the notebooks'
  recipes, MNIST accuracy items get predictions of controlled accuracy;
* make_inputs is deterministic for a seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mutations.harness import run_item
from mutations.variants import matmul_backward, square_graph_backward, standardize

import reference as R
from grader.engine.spec import TrustedData
from grader.specs import all_assignments, assignment_ids, get_assignment
from grader.student.datasets import make_moons, make_sine, make_spiral
from grader.student.yearprediction import make_synthetic
from reference.networks import MultiLayerNet, TwoLayerNet

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
ITEMS = {it.id: it for a in all_assignments() for it in a.items}
SEEDS = (0, 1, 2)


def _reference_namespace() -> dict:
    ns = {name: getattr(R, name) for name in R.__all__}
    ns.update(
        matmul_backward=matmul_backward,
        square_graph_backward=square_graph_backward,
        standardize=standardize,
        MultiLayerNet=MultiLayerNet,
    )
    return ns


TASK_OF = {
    "regression_gradient": "regression",
    "binary_gradient": "binary",
    "multiclass_gradient": "multiclass",
}


def _namespace_for(item_id: str) -> dict:
    ns = _reference_namespace()
    if item_id in TASK_OF:
        task = TASK_OF[item_id]
        ns["TwoLayerNet"] = lambda i, h, o, **kw: TwoLayerNet(i, h, o, task=task)
    return ns


def _check_cells(path: Path) -> dict[str, float]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            assert meta["grade_id"] not in out, f"{path.name}: duplicate {meta['grade_id']}"
            out[meta["grade_id"]] = float(meta["points"])
    return out


def test_registry_is_consistent():
    ids = [a.id for a in all_assignments()]
    assert ids == assignment_ids()
    # course order, as the syllabus lists the notebooks
    assert ids[:2] == ["2-1_autodiff", "2-2-1_two_layer_regression"]
    assert (
        ids.index("3-1-3_other_layers")
        < ids.index("2-4_multilayer_mnist")
        < ids.index("2-10_regularization")
    )
    assert len(ids) == 16
    item_ids = [it.id for a in all_assignments() for it in a.items]
    assert len(item_ids) == len(set(item_ids)), "item ids must be unique across assignments"
    with pytest.raises(KeyError, match="unknown assignment"):
        get_assignment("9-9_nope")


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_notebook_check_cells_match_spec(path):
    spec = get_assignment(path.stem)  # every solution notebook has a spec
    cells = _check_cells(path)
    items = {it.id: float(it.points) for it in spec.items}
    assert cells == items


def test_uses_mnist_iff_an_accuracy_item():
    for a in all_assignments():
        assert a.uses_mnist == any("MNIST_PROBE_X" in it.probe for it in a.items), a.id


PROBED = [i for i in ITEMS if "accuracy" not in i and not i.endswith("_fit")]


@pytest.mark.parametrize("item_id", PROBED)
def test_reference_earns_full_points(item_id):
    for seed in SEEDS:
        np.random.seed(seed)
        v = run_item(ITEMS[item_id], _namespace_for(item_id), seed)
        assert v.fraction == 1.0, (seed, v.message["en"], v.error, v.tolerance)
        assert v.error is not None and v.tolerance is not None and v.error <= v.tolerance


@pytest.mark.parametrize("item_id", sorted(ITEMS))
def test_make_inputs_is_deterministic(item_id):
    make = ITEMS[item_id].make_inputs
    a = make(np.random.default_rng(7), TrustedData())
    b = make(np.random.default_rng(7), TrustedData())
    c = make(np.random.default_rng(8), TrustedData())
    assert a.keys() == b.keys()
    for k in a:
        assert isinstance(a[k], np.ndarray) and a[k].dtype.kind in "fiu", k
        np.testing.assert_array_equal(a[k], b[k])
    if a and item_id != "year_prediction_fit":  # the test split is the same for every job
        assert any(not np.array_equal(a[k], c[k]) for k in a), "inputs ignore the seed"


# --- trained networks: the notebooks' recipes on the reference TwoLayerNet ---------------------


def _train(task, data, sizes, iters, batch, lr, seed=0):
    (x, t), _ = data
    net = TwoLayerNet(*sizes, task=task, weight_init_std=1.0, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(iters):
        b = rng.choice(len(x), batch)
        g = net.gradient(x[b], t[b])
        for k in net.params:
            net.params[k] -= lr * g[k]
    return net


FITS = {
    "regression_fit": (
        "regression",
        lambda: make_sine(200, 100, 0.1, 0),
        (1, 20, 1),
        4000,
        20,
        0.5,
    ),
    "binary_fit": ("binary", lambda: make_moons(400, 200, 0.15, 0), (2, 10, 1), 3000, 32, 1.0),
    "multiclass_fit": (
        "multiclass",
        lambda: make_spiral(300, 300, noise=0.2, seed=0, one_hot=True),
        (2, 50, 3),
        8000,
        32,
        2.0,
    ),
}


@pytest.mark.parametrize("item_id", sorted(FITS))
def test_trained_reference_network_passes_fit_and_untrained_fails(item_id):
    task, data, sizes, iters, batch, lr = FITS[item_id]
    trained = _train(task, data(), sizes, iters, batch, lr)
    untrained = TwoLayerNet(*sizes, task=task, weight_init_std=1.0, seed=1)
    for seed in SEEDS:
        good = run_item(ITEMS[item_id], {"network": trained}, seed)
        assert good.fraction == 1.0, (seed, good.message["en"])
        bad = run_item(ITEMS[item_id], {"network": untrained}, seed)
        assert bad.fraction < 0.5 and bad.hint is not None, (seed, bad.message["en"])


def test_year_prediction_fit_with_reference_network():
    d = make_synthetic()
    x = d.x_train.astype(np.float64)
    x_mean, x_std = x.mean(axis=0), x.std(axis=0)
    t_mean, t_std = d.t_train.mean(), d.t_train.std()
    xs, ts = (x - x_mean) / x_std, (d.t_train - t_mean) / t_std
    net = TwoLayerNet(90, 32, 1, task="regression", weight_init_std=0.1, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(10):  # the notebook's recipe: 10 epochs, batch 100, lr 0.1
        order = rng.permutation(len(xs))
        for start in range(0, len(xs), 100):
            b = order[start : start + 100]
            g = net.gradient(xs[b], ts[b])
            for k in net.params:
                net.params[k] -= 0.1 * g[k]
    ns = dict(network=net, standardize=standardize, x_mean=x_mean, x_std=x_std)
    item = ITEMS["year_prediction_fit"]
    assert run_item(item, {**ns, "t_mean": t_mean, "t_std": t_std}, 0).fraction == 1.0
    # the same network whose standardised outputs are not mapped back to years fails
    assert run_item(item, ns, 0).fraction == 0.0


# --- MNIST accuracy: the credit curve (threshold, partial credit, hints) is tested with genuine
# provenance arrays in tests/test_mnist_provenance.py::test_accuracy_credit_with_provenance;
# ``pred`` alone no longer earns credit (the labels are public).


def test_accuracy_probe_uses_inference_mode():
    """The MNIST probe calls predict(x, train_flg=False) when predict accepts it."""
    calls = []

    class Net:
        def predict(self, x, train_flg=True):
            calls.append(train_flg)
            return np.tile(np.eye(10)[0], (len(x), 1))

    g = {"network": Net(), "MNIST_PROBE_X": np.zeros((2500, 784), np.float32), "out": {}}
    exec(ITEMS["mnist_accuracy_2_8"].probe, g)
    assert calls and not any(calls)
    assert g["out"]["pred"].shape == (2500,) and g["out"]["pred"].dtype == np.int64
