"""Trainer: history shapes, batching, seeding, the learning-rate schedule."""

from __future__ import annotations

import numpy as np
import pytest

from grader.student.datasets import make_moons, make_sine, make_spiral
from reference.networks import MultiLayerNet, TwoLayerNet
from reference.optimizers import SGD, LinearDecay
from reference.trainer import Trainer


def spiral_trainer(**kw) -> Trainer:
    (x, t), (xt, tt) = make_spiral(n_train=210, n_test=90, seed=0)
    net = MultiLayerNet(2, [30, 30], 3, seed=0)
    args = dict(epochs=4, batch_size=50, optimizer=SGD(0.5), verbose=False, seed=0)
    return Trainer(net, x, t, xt, tt, **{**args, **kw})


def test_history_shapes_and_learning():
    tr = spiral_trainer().train()
    assert tr.iter_per_epoch == 5  # ceil(210 / 50)
    assert len(tr.train_loss_list) == 4 * 5
    assert len(tr.epoch_loss_list) == len(tr.train_acc_list) == len(tr.test_acc_list) == 4
    assert len(tr.test_loss_list) == len(tr.epoch_seconds) == 4
    assert all(0.0 <= a <= 1.0 for a in tr.train_acc_list + tr.test_acc_list)
    assert tr.epoch_loss_list[-1] < tr.epoch_loss_list[0]  # it trains
    # The recorded batch losses are the losses of the batches before each update.
    assert tr.train_loss_list[0] == pytest.approx(np.log(3), rel=0.2)


def test_same_seed_same_history_and_eval_subset():
    a = spiral_trainer(evaluate_sample_num_per_epoch=40).train()
    b = spiral_trainer(evaluate_sample_num_per_epoch=40).train()
    c = spiral_trainer(evaluate_sample_num_per_epoch=40, seed=1).train()
    assert a.train_loss_list == b.train_loss_list
    assert a.train_loss_list != c.train_loss_list
    assert all(round(acc * 40) == acc * 40 for acc in a.train_acc_list)  # 40 samples each


def test_linear_decay_sets_lr_per_update():
    opt = SGD(0.5)
    tr = spiral_trainer(optimizer=opt, epochs=2, lr_schedule=LinearDecay(0.5, 0.05, tau=8))
    tr.train()
    assert tr.current_iter == 10
    assert opt.lr == pytest.approx(0.05)  # past tau: lr_tau


def test_regression_network_records_losses_without_accuracy():
    (x, t), (xt, tt) = make_sine(n_train=100, n_test=50, seed=0)
    net = TwoLayerNet(1, 10, 1, task="regression", weight_init_std=1.0, seed=0)
    tr = Trainer(net, x, t, xt, tt, epochs=3, batch_size=20, optimizer=SGD(0.5), verbose=False)
    tr.train()
    assert tr.train_acc_list == [] and len(tr.test_loss_list) == 3


def test_optimizer_by_name_and_bad_arguments():
    (x, t), (xt, tt) = make_moons(n_train=40, n_test=20, seed=0)
    net = TwoLayerNet(2, 5, 1, task="binary", seed=0)
    tr = Trainer(net, x, t, xt, tt, epochs=1, optimizer="adam", optimizer_param={"lr": 0.01})
    assert type(tr.optimizer).__name__ == "Adam" and tr.optimizer.lr == 0.01
    with pytest.raises(ValueError, match="unknown optimizer"):
        Trainer(net, x, t, xt, tt, optimizer="lbfgs")
    with pytest.raises(ValueError, match="lengths differ"):
        Trainer(net, x, t[:-1], xt, tt)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        Trainer(net, x, t, xt, tt, epochs=0)


def test_toy_datasets_are_seeded_and_shaped():
    (x, t), (xt, tt) = make_sine(n_train=30, n_test=10, seed=3)
    assert x.shape == t.shape == (30, 1) and xt.shape == (10, 1)
    assert np.array_equal(x, make_sine(n_train=30, n_test=10, seed=3)[0][0])
    (x, t), _ = make_moons(n_train=31, n_test=10, seed=0)
    assert x.shape == (31, 2) and t.shape == (31, 1) and set(np.unique(t)) == {0.0, 1.0}
    (x, t), _ = make_spiral(n_train=30, n_test=9, n_classes=5, seed=0)
    assert x.shape == (30, 2) and t.dtype == np.int64 and np.bincount(t).tolist() == [6] * 5
    _, (xt, tt) = make_spiral(n_train=30, n_test=9, n_classes=3, one_hot=True)
    assert tt.shape == (9, 3) and np.all(tt.sum(axis=1) == 1)
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        make_spiral(n_classes=1)
