"""Splits: the time split never puts a validation row before a training row; the demo pool never leaks."""

from __future__ import annotations

import numpy as np
import pytest

from fraud_helpers import demo
from zoo.data import split_indices
from zoo.errors import DataError
from zoo_tabular_fraud.data import demo_parts
from zoo_tabular_fraud.splits import labelled_subset, time_split


def test_time_split_is_strictly_ordered_even_with_ties():
    rng = np.random.default_rng(0)
    times = rng.integers(0, 50, 1000).astype("float64")  # many equal times
    train, val, test = time_split(times, 0.2, 0.2, "ts")
    assert len(train) + len(val) + len(test) == 1000
    assert times[val].min() > times[train].max()
    assert times[test].min() > times[val].max()
    assert 0.5 < len(train) / 1000 < 0.7


def test_time_split_refuses_missing_times():
    times = np.array([1.0, 2.0, np.nan, 4.0] * 10)
    with pytest.raises(DataError, match="time column 'ts' is missing in 10 row"):
        time_split(times, 0.2, 0.2, "ts")


def test_stratified_split_keeps_the_fraud_rate():
    y = np.r_[np.ones(40, int), np.zeros(1960, int)]
    train, val, test = split_indices(y, 0.15, 0.15, seed=1)
    assert len(set(train) | set(val) | set(test)) == 2000
    assert [int(y[s].sum()) for s in (train, val, test)] == [28, 6, 6]
    lab, pool = labelled_subset(train, y, 0.1, seed=1)
    assert len(set(lab) & set(pool)) == 0 and set(lab) | set(pool) == set(train)
    assert y[lab].sum() == 3


def test_demo_time_split_trains_on_the_past():
    bundle = demo(demo_rows=4000, split="time")
    meta = bundle.metadata["split"]
    assert meta["kind"] == "time" and meta["time_column"] == "timestamp"
    t_train = np.concatenate([x["timestamp"].numpy() for x, _ in bundle.train.batch(4096)])
    t_val = np.concatenate([x["timestamp"].numpy() for x, _ in bundle.validation.batch(4096)])
    t_test = np.concatenate([x["timestamp"].numpy() for x, _ in bundle.test.batch(4096)])
    assert t_val.min() > t_train.max() and t_test.min() > t_val.max()
    assert meta["time_range"]["validation"][0] > meta["time_range"]["train"][1]


@pytest.mark.parametrize("split", ["stratified", "time"])
def test_demo_pool_holds_no_validation_or_test_row(split):
    table, parts = demo_parts(4000, 0, split, 0.1, 0.15, 0.15)
    pool = set(parts["unlabelled"].tolist())
    for name in ("train", "validation", "test"):
        assert not pool & set(parts[name].tolist()), name
    assert len(pool) + sum(len(parts[n]) for n in ("train", "validation", "test")) == table.num_rows
    assert 0.09 < len(parts["train"]) / (len(parts["train"]) + len(pool)) < 0.11
