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


# --------------------------------------------------------------------------- the operating threshold

def test_youden_threshold_maximises_sensitivity_plus_specificity():
    from zoo_medical_ct import youden_threshold

    labels = [1, 1, 0, 1, 0]
    scores = [0.9, 0.8, 0.75, 0.3, 0.1]
    # by hand, score >= t positive: t=0.8 -> sens 2/3, spec 2/2, J 0.667; t=0.3 -> 3/3, 1/2, J 0.5;
    # t=0.75 -> 2/3, 1/2, J 0.167; t=0.9 -> 1/3, 1, J 0.333
    assert youden_threshold(labels, scores) == 0.8
    # equal J at 0.6 (sens 1/2, spec 1) and 0.2 (sens 1, spec 1/2): the more sensitive one
    assert youden_threshold([1, 0, 1, 0], [0.6, 0.4, 0.2, 0.1]) == 0.2
    assert youden_threshold([0, 0], [0.1, 0.2]) == 0.5


def _few_positives_with_an_outlier():
    """What the demo met: 9 positive validation studies, one of them scored like the lowest negatives."""
    positives = [0.0068, 0.0201, 0.0734, 0.16, 0.19, 0.21, 0.36, 0.67, 0.73]
    negatives = [0.0006, 0.0014, 0.0017, 0.0041, 0.0046, 0.0099, 0.0107, 0.0209, 0.0296, 0.0337, 0.0621, 0.0622]
    return [1] * 9 + [0] * 12, positives + negatives


def test_with_few_positives_the_target_would_collapse_to_the_lowest_positive_and_youden_is_used():
    from zoo_medical_ct import operating_threshold

    labels, scores = _few_positives_with_an_outlier()
    assert choose_threshold(labels, scores, 0.9) == 0.0068               # floor(0.1 * 9) = 0 missed: the minimum
    choice = operating_threshold(labels, scores, 0.9, min_positives=20)
    assert choice["rule"] == "youden" and choice["threshold"] == 0.0734   # J = 7/9 + 12/12 - 1
    assert (choice["positives"], choice["negatives"]) == (9, 12)
    assert "9 positives are fewer than the 20 needed" in choice["description"]
    assert "allows 0 missed" in choice["description"] and "lowest-scoring positive" in choice["description"]
    at_target = clinical_metrics(labels, scores, 0.0068)
    at_choice = clinical_metrics(labels, scores, choice["threshold"])
    assert at_target["specificity"] == pytest.approx(5 / 12) and at_choice["specificity"] == 1.0
    assert at_choice["sensitivity"] == pytest.approx(7 / 9)
    # the user can ask for the target with fewer positives, and gets it
    assert operating_threshold(labels, scores, 0.9, min_positives=9)["rule"] == "target_sensitivity"


@pytest.mark.parametrize("n, missed", [(20, 2), (25, 2), (29, 2), (30, 3)])
def test_with_enough_positives_the_target_allows_floor_of_a_tenth_missed(n, missed):
    from zoo_medical_ct import operating_threshold

    rng = np.random.default_rng(n)
    pos, neg = np.sort(rng.uniform(0.2, 1.0, n)), rng.uniform(0.0, 0.6, 15)
    choice = operating_threshold([1] * n + [0] * 15, np.concatenate([pos, neg]), 0.9, min_positives=20)
    assert choice["rule"] == "target_sensitivity" and choice["missed_allowed"] == missed
    assert choice["threshold"] == pos[missed]                 # the (missed + 1)-th lowest positive score
    assert f"on the {n} positive validation studies (at most {missed} missed)" in choice["description"]


def test_without_positives_or_negatives():
    from zoo_medical_ct import operating_threshold

    assert operating_threshold([0, 0, 0], [0.1, 0.2, 0.3], 0.9)["rule"] == "none"
    only_positives = operating_threshold([1, 1, 1], [0.2, 0.5, 0.9], 0.9)
    assert only_positives["rule"] == "target_sensitivity" and only_positives["threshold"] == 0.2
    assert "no negative study" in only_positives["description"]
    with pytest.raises(ConfigError, match="min_positives"):
        operating_threshold([1, 0], [0.6, 0.4], 0.9, min_positives=0)


def test_wilson_intervals_against_reference_values():
    from zoo_medical_ct import wilson_interval

    # reference values (Newcombe 1998, table I; and by the closed form)
    assert wilson_interval(9, 9) == pytest.approx((0.7009, 1.0), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson_interval(0, 0) is None
    m = clinical_metrics([1, 1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1, 0.6], 0.5)
    assert m["sensitivity_ci95"] == pytest.approx(list(wilson_interval(2, 3)))
    assert m["specificity_ci95"] == pytest.approx(list(wilson_interval(1, 2)))
    assert clinical_metrics([0, 0], [0.1, 0.2], 0.5)["sensitivity_ci95"] is None


def test_the_report_records_the_rule_and_the_intervals():
    from zoo_medical_ct.report import card_section, summarize

    labels, scores = _few_positives_with_an_outlier()
    part = {"studies": [f"s{i}" for i in range(len(labels))], "labels": np.asarray(labels),
            "scores": np.asarray(scores), "slice_labels": np.asarray(labels), "slice_scores": np.asarray(scores)}
    report = summarize({"validation": part, "test": part}, "mean", 0.9, 20)
    assert report["threshold"] == 0.0734 and report["threshold_rule"] == "youden"
    assert report["threshold_chosen_on"].startswith("validation studies: Youden's J")
    assert report["threshold_choice"] == {"positives": 9, "negatives": 12, "missed_allowed": None}
    assert report["test"]["sensitivity_ci95"] == pytest.approx([0.4526, 0.9368], abs=1e-4)   # 7 of 9
    card = card_section(report, {}, seed=42)
    assert "rule `youden`" in card and "9 positives are fewer than the 20 needed" in card
    assert "95% Wilson" in card and "0.778 (0.453-0.937)" in card
