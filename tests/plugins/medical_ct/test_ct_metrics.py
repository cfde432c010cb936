"""Study-level aggregation, threshold choice and clinical metrics, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.errors import ConfigError
from zoo_medical_ct import aggregate, choose_threshold, clinical_metrics


def test_aggregate_mean_and_max_per_study_in_order():
    scores = [0.1, 0.9, 0.2, 0.4, 0.6]
    groups = ["b", "b", "a", "a", "a"]
    keys, mean = aggregate(scores, groups, "mean")
    assert keys == ["b", "a"]
    np.testing.assert_allclose(mean, [0.5, 0.4])
    np.testing.assert_allclose(aggregate(scores, groups, "max")[1], [0.9, 0.6])
    with pytest.raises(ConfigError):
        aggregate(scores, groups, "median")


def test_threshold_is_the_highest_reaching_the_target_sensitivity():
    labels = [1, 1, 1, 1, 0, 0, 0]
    scores = [0.9, 0.8, 0.7, 0.3, 0.75, 0.2, 0.1]
    assert choose_threshold(labels, scores, 0.75) == 0.7       # 3 of 4 positives at >= 0.7
    assert choose_threshold(labels, scores, 0.9) == 0.3        # 0.9 * 4 = 3.6 -> all 4
    assert choose_threshold(labels, scores, 0.5) == 0.8
    assert choose_threshold([0, 0], [0.2, 0.4], 0.9) == 0.5    # no positive: the neutral threshold


def test_clinical_metrics_at_a_threshold():
    labels = [1, 1, 1, 1, 0, 0, 0]
    scores = [0.9, 0.8, 0.7, 0.3, 0.75, 0.2, 0.1]
    m = clinical_metrics(labels, scores, 0.7)
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (3, 1, 1, 2)
    assert m["sensitivity"] == 0.75 and m["specificity"] == pytest.approx(2 / 3)
    assert m["ppv"] == 0.75 and m["npv"] == pytest.approx(2 / 3)
    # ROC-AUC by counting pairs: of 12 (positive, negative) pairs, the positive scores higher in 10
    assert m["roc_auc"] == pytest.approx(10 / 12)
    # PR-AUC (average precision): in score order 0.9+ 0.8+ 0.75- 0.7+ 0.3+, precision at each
    # positive is 1/1, 2/2, 3/4, 4/5
    assert m["pr_auc"] == pytest.approx((1 + 1 + 3 / 4 + 4 / 5) / 4)


def test_undefined_metrics_are_none_not_numbers():
    m = clinical_metrics([0, 0, 0], [0.2, 0.6, 0.1], 0.5)
    assert m["roc_auc"] is None and m["sensitivity"] is None
    assert m["specificity"] == pytest.approx(2 / 3)
