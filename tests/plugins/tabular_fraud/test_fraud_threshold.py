"""The decision threshold and the fraud metrics, against brute force and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from zoo_tabular_fraud.threshold import (analysis, choose_threshold, fraud_metrics, precision_at_recall,
                                         precision_recall_at, recall_at_precision)


def scored(n=3000, rate=0.02, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    s = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 2.5 * y - 3)))
    if ties:
        s = np.round(s, 2)
    return y, s.astype("float32")


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("cost_fn, cost_fp", [(50, 1), (5, 1), (1, 1), (500, 1)])
def test_cost_threshold_is_the_brute_force_minimum(cost_fn, cost_fp, ties):
    y, s = scored(ties=ties)
    choice = choose_threshold(y, s, cost_fn, cost_fp)
    candidates = np.r_[np.unique(s), np.inf]
    costs = [cost_fn * np.sum((s < t) & (y == 1)) + cost_fp * np.sum((s >= t) & (y == 0)) for t in candidates]
    assert choice.expected_cost == pytest.approx(min(costs))
    # the reported precision/recall are exactly those of `score >= threshold`
    precision, recall = precision_recall_at(y, s, choice.threshold)
    assert (precision, recall) == pytest.approx((choice.precision, choice.recall))
    flagged = s >= choice.threshold
    assert choice.true_positives == np.sum(flagged & (y == 1))
    assert choice.false_positives == np.sum(flagged & (y == 0))
    assert cost_fn * choice.false_negatives + cost_fp * choice.false_positives == pytest.approx(choice.expected_cost)


def test_higher_miss_cost_flags_more():
    y, s = scored()
    cheap, dear = choose_threshold(y, s, 2, 1), choose_threshold(y, s, 200, 1)
    assert dear.threshold < cheap.threshold and dear.recall >= cheap.recall


def test_target_precision_takes_the_highest_recall_that_reaches_it():
    y, s = scored()
    choice = choose_threshold(y, s, target_precision=0.6)
    assert choice.target_reached and choice.precision >= 0.6
    assert choice.recall == pytest.approx(recall_at_precision(y, s, 0.6))
    impossible = choose_threshold(y, s, target_precision=1.0 + 0.0)
    assert impossible.precision == 1.0 or impossible.target_reached is False


def test_threshold_sits_between_neighbouring_scores():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.2, 0.9, 0.8, 0.3, 0.7], "float32")
    choice = choose_threshold(y, s, cost_fn=10, cost_fp=1)
    assert choice.recall == 1.0 and choice.precision == 1.0
    assert 0.3 < choice.threshold < 0.7
    assert choice.threshold == pytest.approx((0.3 + 0.7) / 2, abs=1e-6)


def test_metrics_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    for ties in (False, True):
        y, s = scored(ties=ties, seed=3)
        p, r, _ = metrics.precision_recall_curve(y, s)
        assert recall_at_precision(y, s, 0.5) == pytest.approx(r[p >= 0.5].max())
        assert precision_at_recall(y, s, 0.5) == pytest.approx(p[r >= 0.5].max())
        report = fraud_metrics(y, s, 0.8, 0.5)
        assert set(report) == {"pr_auc", "roc_auc", "recall_at_precision_0.8", "precision_at_recall_0.5", "rows",
                               "fraud"}
        assert report["pr_auc"] == pytest.approx(metrics.average_precision_score(y, s))
        assert report["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, s))


def test_analyze_hook_follows_the_run_options():
    """`Plugin.analyze` (contract 2) takes the run's options: costs, target precision, metric levels."""
    from zoo_tabular_fraud import plugin

    y, s = scored(seed=5)
    val, test = (y[:1500], s[:1500]), (y[1500:], s[1500:])
    recipe = plugin.resolve_recipe(overrides={"options": {"cost_fn": 200, "fixed_precision": 0.6}})
    out = plugin.analyze("unused-run-dir", recipe, plugin.options_for(recipe), val, test)
    expected = analysis(val, test, cost_fn=200, cost_fp=1, fixed_precision=0.6)
    assert out["decision_threshold"] == expected["decision_threshold"]
    assert out["threshold"]["cost_fn"] == 200 and "recall_at_precision_0.6" in out["metrics"]["test"]
    assert out["metrics"] == expected["metrics"]
