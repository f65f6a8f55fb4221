"""Seconds per training epoch of an MLP 784-100-100-10 (ReLU, softmax cross-entropy, SGD
lr 0.1, batch 100, float32) on the 60k MNIST training set, three ways:

* ``reference``: MultiLayerNet + Trainer-style loop over the reference layer classes,
* ``numpy-min``: a minimal hand-written NumPy loop (the floor for NumPy code),
* ``torch``: PyTorch on the CPU (skipped with a message when torch is missing).

Each is run ``--repeats`` times (fresh weights, same batch order); the median is printed with
the ratio to the minimal loop. Timings are figures to read, never assertions.

    .venv/bin/python bench/epoch_speed.py [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=5, help="epochs timed per variant (median)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS / torch threads (default: the libraries' own choice)",
    )
    p.add_argument("--skip-torch", action="store_true")
    return p.parse_args()


ARGS = parse_args()
if ARGS.threads is not None:  # must be set before NumPy loads OpenBLAS
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from grader.student.mnist import load_mnist  # noqa: E402
from reference.networks import MultiLayerNet  # noqa: E402
from reference.optimizers import SGD  # noqa: E402

SIZES = (784, 100, 100, 10)
BATCH = 100
LR = 0.1


def he_weights(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
        out += [
            (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32),
            np.zeros(n_out, dtype=np.float32),
        ]
    return out


def epoch_reference(x, t, order, seed) -> float:
    """The reference network and optimiser, the loop the Trainer runs."""
    net = MultiLayerNet(784, [100, 100], 10, dtype=np.float32, seed=seed)
    for key, w in zip(["W1", "b1", "W2", "b2", "W3", "b3"], he_weights(seed)):
        net.params[key][...] = w
    opt = SGD(LR)
    start = time.perf_counter()
    for i in range(0, len(order), BATCH):
        idx = order[i : i + BATCH]
        grads = net.gradient(x[idx], t[idx])
        opt.update(net.params, grads)
    elapsed = time.perf_counter() - start
    acc = net.accuracy(x[:10000], t[:10000])
    return elapsed, acc


def epoch_numpy_min(x, t, order, seed) -> float:
    """The floor: the same maths written out with no classes and no checks."""
    W1, b1, W2, b2, W3, b3 = he_weights(seed)
    lr = np.float32(LR)
    start = time.perf_counter()
    for i in range(0, len(order), BATCH):
        idx = order[i : i + BATCH]
        xb, tb = x[idx], t[idx]
        h1 = np.maximum(xb @ W1 + b1, 0)
        h2 = np.maximum(h1 @ W2 + b2, 0)
        s = h2 @ W3 + b3
        s -= s.max(axis=1, keepdims=True)
        e = np.exp(s)
        y = e / e.sum(axis=1, keepdims=True)
        y[np.arange(len(tb)), tb] -= 1
        d3 = y / np.float32(len(tb))
        d2 = (d3 @ W3.T) * (h2 > 0)
        d1 = (d2 @ W2.T) * (h1 > 0)
        W3 -= lr * (h2.T @ d3)
        b3 -= lr * d3.sum(axis=0)
        W2 -= lr * (h1.T @ d2)
        b2 -= lr * d2.sum(axis=0)
        W1 -= lr * (xb.T @ d1)
        b1 -= lr * d1.sum(axis=0)
    elapsed = time.perf_counter() - start
    h = np.maximum(np.maximum(x[:10000] @ W1 + b1, 0) @ W2 + b2, 0) @ W3 + b3
    return elapsed, float(np.mean(h.argmax(axis=1) == t[:10000]))


def make_torch_epoch():
    try:
        import torch
    except ImportError:
        return None
    if ARGS.threads is not None:
        torch.set_num_threads(ARGS.threads)

    def epoch_torch(x, t, order, seed) -> float:
        ws = [torch.from_numpy(w.copy()) for w in he_weights(seed)]
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 100), torch.nn.ReLU(),
            torch.nn.Linear(100, 100), torch.nn.ReLU(),
            torch.nn.Linear(100, 10),
        )  # fmt: skip
        with torch.no_grad():
            for layer, (W, b) in zip(model[::2], zip(ws[::2], ws[1::2])):
                layer.weight.copy_(W.T)
                layer.bias.copy_(b)
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        loss_fn = torch.nn.CrossEntropyLoss()
        xt, tt = torch.from_numpy(x), torch.from_numpy(t)
        ot = torch.from_numpy(order)
        start = time.perf_counter()
        for i in range(0, len(order), BATCH):
            idx = ot[i : i + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), tt[idx])
            loss.backward()
            opt.step()
        elapsed = time.perf_counter() - start
        with torch.no_grad():
            acc = (model(xt[:10000]).argmax(1) == tt[:10000]).float().mean().item()
        return elapsed, acc

    return epoch_torch, torch.__version__, torch.get_num_threads()


def main() -> None:
    (x, t), _ = load_mnist(normalize=True, flatten=True)
    x = np.ascontiguousarray(x, dtype=np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    variants = {"numpy-min": epoch_numpy_min, "reference": epoch_reference}
    torch_info = None if ARGS.skip_torch else make_torch_epoch()
    if torch_info is None:
        print("torch: skipped (not installed or --skip-torch)")
    else:
        variants["torch"] = torch_info[0]
        print(f"torch {torch_info[1]}, {torch_info[2]} threads")
    print(
        f"numpy {np.__version__}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
        f"; {len(x)} samples, batch {BATCH}, MLP {'-'.join(map(str, SIZES))}, float32, SGD"
    )
    times: dict[str, list[float]] = {k: [] for k in variants}
    accs: dict[str, float] = {}
    # Interleave the variants so that a change of machine load hits all of them alike.
    for rep in range(ARGS.repeats):
        for name, fn in variants.items():
            sec, acc = fn(x, t, order, seed=rep)
            times[name].append(sec)
            accs[name] = acc
    floor = statistics.median(times["numpy-min"])
    floor_min = min(times["numpy-min"])
    print(
        f"{'variant':<10} {'median s/epoch':>14} {'min':>7} {'max':>7} "
        f"{'ratio':>6} {'min ratio':>9} {'acc*':>6}"
    )
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"{name:<10} {med:>14.3f} {min(ts):>7.3f} {max(ts):>7.3f} "
            f"{med / floor:>6.2f} {min(ts) / floor_min:>9.2f} {accs[name]:>6.3f}"
        )
    print(
        "ratio: median / median of numpy-min; min ratio: best / best (steadier on a busy machine)"
    )
    print("* training accuracy on the first 10k training images after one epoch (sanity check)")


if __name__ == "__main__":
    main()
