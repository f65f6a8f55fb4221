"""``grader demo``: a friendly first run: train a small network on MNIST and report accuracy."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train a small network on MNIST for one epoch (checks the set-up)",
        description="Loads MNIST (fetching it if needed), trains a 784-100-10 ReLU network "
        "with SGD and prints the test accuracy (above 90%% after one epoch).",
    )
    parser.add_argument("--epochs", type=int, default=1, help="passes over the data (default 1)")
    parser.add_argument(
        "--samples", type=int, default=60000, help="training images to use (default all 60000)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.epochs < 1 or not 2 <= args.samples <= 60000:
        print("error: need --epochs >= 1 and 2 <= --samples <= 60000", file=sys.stderr)
        return 2
    import time

    import numpy as np

    from grader.student.mnist import MnistError, load_mnist
    from reference.networks import MultiLayerNet
    from reference.optimizers import SGD
    from reference.trainer import Trainer

    try:
        (x_train, t_train), (x_test, t_test) = load_mnist()
    except MnistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    x_train, t_train = x_train[: args.samples], t_train[: args.samples]
    net = MultiLayerNet(784, [100], 10, weight_init_std="he", dtype=np.float32, seed=args.seed)
    print(f"training a 784-100-10 network on {len(x_train)} MNIST images, {args.epochs} epoch(s)")
    start = time.perf_counter()
    trainer = Trainer(
        net, x_train, t_train, x_test, t_test, epochs=args.epochs, batch_size=100,
        optimizer=SGD(lr=0.1), seed=args.seed, verbose=True,
    )  # fmt: skip
    trainer.train()
    acc = net.accuracy(x_test, t_test)
    print(f"test accuracy {acc:.2%} after {time.perf_counter() - start:.1f} s. All set!")
    return 0
