"""MNIST accuracy of the reference networks, with wall time per epoch.

1. ``TwoLayerNet`` 784-100-10 (sigmoid hidden layer, softmax head, N(0, 0.01^2) weights),
   plain SGD: target >= 97% test accuracy.
2. ``MultiLayerNetExtend`` (He initialisation, batch norm, dropout, Adam): target >= 98.2%.

Both train on the 60k training set in float32 with batch 100 and report the test accuracy of
the final network on the 10k test set. Takes a few minutes on two cores; the figures are
printed, never asserted (the exit code says whether the targets were met).

    .venv/bin/python bench/mnist_results.py [--threads N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--threads", type=int, default=None, help="BLAS threads (default: library's)")
    p.add_argument("--quick", action="store_true", help="a quarter of the epochs (smoke run)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


ARGS = parse_args()
if ARGS.threads is not None:  # before NumPy loads OpenBLAS
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from grader.student.mnist import load_mnist  # noqa: E402
from reference.networks import MultiLayerNetExtend, TwoLayerNet  # noqa: E402
from reference.optimizers import SGD, Adam, LinearDecay  # noqa: E402
from reference.trainer import Trainer  # noqa: E402

# name, target, epochs, network factory, optimiser factory, schedule factory (epochs -> ...)
ITERS_PER_EPOCH = 600  # 60000 / 100
EXPERIMENTS = [
    (
        "TwoLayerNet 784-100-10, sigmoid, SGD lr 1.0",
        0.970,
        20,
        lambda seed: TwoLayerNet(
            784, 100, 10, task="multiclass", weight_init_std=0.01, dtype=np.float32, seed=seed
        ),
        lambda: SGD(lr=1.0),
        lambda epochs: None,
    ),
    (
        "MultiLayerNetExtend 784-256-256-10, ReLU, He, BN, dropout 0.2, Adam 2e-3 -> 1e-5",
        0.982,
        12,
        lambda seed: MultiLayerNetExtend(
            784,
            [256, 256],
            10,
            activation="relu",
            weight_init_std="he",
            use_batchnorm=True,
            use_dropout=True,
            dropout_ratio=0.2,
            dtype=np.float32,
            seed=seed,
        ),  # fmt: skip
        lambda: Adam(lr=2e-3),
        # Linear decay to ~0 over the run: without it the last epochs wander +-0.2%.
        lambda epochs: LinearDecay(2e-3, 1e-5, tau=ITERS_PER_EPOCH * epochs),
    ),
]


def main() -> int:
    (x, t), (xt, tt) = load_mnist(normalize=True, flatten=True)
    print(f"numpy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    all_met = True
    rows = []
    for name, target, epochs, make_net, make_opt, make_schedule in EXPERIMENTS:
        epochs = max(1, epochs // 4) if ARGS.quick else epochs
        print(f"\n== {name}: {epochs} epochs, batch 100")
        net = make_net(ARGS.seed)
        start = time.perf_counter()
        trainer = Trainer(
            net, x, t, xt, tt, epochs=epochs, batch_size=100, optimizer=make_opt(),
            verbose=True, seed=ARGS.seed, lr_schedule=make_schedule(epochs),
        )  # fmt: skip
        trainer.train()
        total = time.perf_counter() - start
        acc = net.accuracy(xt, tt)
        per_epoch = float(np.median(trainer.epoch_seconds))
        met = acc >= target
        all_met &= met
        rows.append((name, epochs, per_epoch, total, acc, target, met))
    print("\nnetwork | epochs | s/epoch (median, updates only) | total s | test acc | target")
    for name, epochs, per_epoch, total, acc, target, met in rows:
        flag = "met" if met else "NOT met"
        print(f"{name} | {epochs} | {per_epoch:.2f} | {total:.1f} | {acc:.4f} | {target} {flag}")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
