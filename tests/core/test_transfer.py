"""Transferability scores against small cases worked out by hand and a direct (non-SVD) LogME."""

import math

import numpy as np
import pytest

from zoo.errors import ConfigError
from zoo.transfer import check_scorable, h_score, kendall_tau, leep, logme


# --- LEEP -------------------------------------------------------------------------------------

def test_leep_matches_a_hand_computed_case():
    theta = [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.5, 0.5]]
    labels = [0, 0, 1, 0]
    # P(y, z) = 1/4 sum_i theta_iz [y_i = y]
    p00, p01 = (0.9 + 0.6 + 0.5) / 4, (0.1 + 0.4 + 0.5) / 4  # 0.5, 0.25
    p10, p11 = 0.2 / 4, 0.8 / 4  # 0.05, 0.2
    pz0, pz1 = p00 + p10, p01 + p11  # 0.55, 0.45
    c00, c10, c01, c11 = p00 / pz0, p10 / pz0, p01 / pz1, p11 / pz1  # P(y | z)
    eep = [c00 * 0.9 + c01 * 0.1, c00 * 0.6 + c01 * 0.4, c10 * 0.2 + c11 * 0.8, c00 * 0.5 + c01 * 0.5]
    expected = sum(math.log(e) for e in eep) / 4
    # P(y | z) = 10/11, 1/11 for z = 0 and 5/9, 4/9 for z = 1
    assert expected == pytest.approx((math.log(10 / 11 * 0.9 + 5 / 9 * 0.1) + math.log(10 / 11 * 0.6 + 5 / 9 * 0.4)
                                      + math.log(1 / 11 * 0.2 + 4 / 9 * 0.8)
                                      + math.log(10 / 11 * 0.5 + 5 / 9 * 0.5)) / 4, rel=1e-12)
    assert leep(theta, labels) == pytest.approx(expected, rel=1e-12)


def test_leep_of_a_perfect_and_of_an_uninformative_source():
    assert leep([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], [0, 1, 0]) == pytest.approx(0.0, abs=1e-12)
    # constant source probabilities: P(y | z) = P(y), so the score is mean log P(y_i)
    uniform = np.full((4, 3), 1 / 3)
    assert leep(uniform, [0, 0, 0, 1]) == pytest.approx((3 * math.log(0.75) + math.log(0.25)) / 4)


def test_leep_is_finite_when_a_source_class_never_fires():
    assert np.isfinite(leep([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [0, 1]))


# --- H-score ----------------------------------------------------------------------------------

def test_h_score_of_one_feature_by_hand():
    # f = 0, 2, 4, 6: mean 3, var (9 + 1 + 1 + 9) / 4 = 5; class means 1, 5: var 4. H = 4 / 5
    assert h_score([[0.0], [2.0], [4.0], [6.0]], [0, 0, 1, 1]) == pytest.approx(0.8)
    # a constant second feature makes cov(f) singular; the pseudo-inverse ignores it
    assert h_score([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0], [6.0, 1.0]], [0, 0, 1, 1]) == pytest.approx(0.8)


def test_h_score_of_two_features_by_hand():
    # cov(f) = I; class means (0, 1) and (2, 1): cov(E[f|y]) = diag(1, 0). H = 1
    f = [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]]
    assert h_score(f, [0, 1, 0, 1]) == pytest.approx(1.0)
    # class means (1, 0) and (1, 2): cov(E[f|y]) = diag(0, 1), H = 1
    # means (0, 0), (1, 1) twice, (2, 2): g centred (-1, -1), 0, 0, (1, 1): cov = [[.5, .5], [.5, .5]], H = 1
    assert h_score(f, [0, 0, 1, 1]) == pytest.approx(1.0)
    assert h_score(f, [0, 1, 1, 2]) == pytest.approx(1.0)
    # means (2/3, 2/3) three times and (2, 2): g centred -(1/3, 1/3) x3, (1, 1): cov = [[1, 1], [1, 1]] / 3, H = 2/3
    assert h_score(f, [0, 0, 0, 1]) == pytest.approx(2 / 3)


# --- LogME ------------------------------------------------------------------------------------

def direct_logme(f, y):
    """One target column, the evidence in matrix form: A = alpha I + beta F^T F, no SVD."""
    n, d = f.shape
    alpha, beta = 1.0, 1.0

    def posterior(alpha, beta):
        a = alpha * np.eye(d) + beta * f.T @ f
        m = beta * np.linalg.solve(a, f.T @ y)
        gamma = d - alpha * np.trace(np.linalg.inv(a))  # sum beta sigma / (alpha + beta sigma)
        return a, m, gamma

    for _ in range(11):
        _, m, gamma = posterior(alpha, beta)
        new_alpha = gamma / (m @ m)
        new_beta = (n - gamma) / np.sum((f @ m - y) ** 2)
        done = abs(new_alpha / new_beta - alpha / beta) <= 1e-3 * alpha / beta
        alpha, beta = new_alpha, new_beta
        if done:
            break
    a, m, _ = posterior(alpha, beta)
    evidence = (n / 2 * np.log(beta) + d / 2 * np.log(alpha) - n / 2 * np.log(2 * np.pi)
                - beta / 2 * np.sum((f @ m - y) ** 2) - alpha / 2 * (m @ m) - np.linalg.slogdet(a)[1] / 2)
    return evidence / n


@pytest.mark.parametrize("n, d", [(40, 6), (8, 20), (12, 12)], ids=["N>D", "N<D", "N=D"])
def test_logme_matches_the_direct_evidence_per_column(n, d):
    rng = np.random.default_rng(n * 100 + d)
    labels = np.arange(n) % 3
    f = rng.normal(size=(n, d)) + 1.5 * np.eye(3, d)[labels]
    columns = [direct_logme(f, (labels == c).astype(float)) for c in range(3)]
    assert logme(f, labels) == pytest.approx(np.mean(columns), rel=1e-8)
    y = f @ rng.normal(size=d) + 0.3 * rng.normal(size=n)
    assert logme(f, y, regression=True) == pytest.approx(direct_logme(f, y), rel=1e-8)


def test_logme_vectorised_over_columns_equals_one_column_at_a_time():
    rng = np.random.default_rng(3)
    labels = np.arange(50) % 5
    f = rng.normal(size=(50, 8)) + np.eye(5, 8)[labels]
    onehot = np.eye(5)[labels]
    one_at_a_time = [logme(f, onehot[:, c], regression=True) for c in range(5)]
    assert logme(f, labels) == pytest.approx(np.mean(one_at_a_time), rel=1e-12)
    assert logme(f, onehot, regression=True) == pytest.approx(np.mean(one_at_a_time), rel=1e-12)


@pytest.mark.parametrize("n, d", [(60, 5), (10, 30)], ids=["N>D", "N<D"])
def test_logme_prefers_informative_features_to_noise(n, d):
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    informative = 3.0 * np.eye(2, d)[labels] + 0.1 * rng.normal(size=(n, d))
    noise = rng.normal(size=(n, d))
    assert logme(informative, labels) > logme(noise, labels)
    target = informative @ rng.normal(size=d)
    assert logme(informative, target, regression=True) > logme(noise, target, regression=True)


def test_logme_accepts_lists_and_column_targets():
    f = [[1.0, 0.2], [0.9, 0.1], [0.1, 1.1], [0.2, 0.8], [1.1, 0.0], [0.0, 1.0]]
    y = [0, 0, 1, 1, 0, 1]
    assert np.isfinite(logme(f, y))
    assert logme(f, np.array(y, float), regression=True) == pytest.approx(
        logme(f, np.array(y, float)[:, None], regression=True))


# --- Kendall's tau ----------------------------------------------------------------------------

def test_kendall_tau_by_hand():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # 6 pairs, one discordant (2, 3): (5 - 1) / 6
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(2 / 3)
    # tau-b: a tie in a; 5 concordant, 0 discordant, 6 pairs, 1 tied in a: 5 / sqrt(5 * 6)
    assert kendall_tau([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(30))
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))


def test_kendall_tau_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    a, b = [0.3, 0.1, 0.1, 0.9, 0.5, 0.5], [2.0, 1.0, 3.0, 3.0, 0.5, 4.0]
    assert kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b).statistic)


# --- check_scorable and validation ------------------------------------------------------------

def test_check_scorable_names_the_counts():
    with pytest.raises(ConfigError) as info:
        check_scorable([0] * 40, class_names=["ants", "bees"])
    assert str(info.value) == ("transferability scores need at least 2 classes with 2 samples each; "
                               "the sample has 1 class (ants: 40)")
    with pytest.raises(ConfigError, match=r"3 classes, 1 with fewer than 2 samples \(1: 1\)"):
        check_scorable([0, 0, 1, 2, 2])
    with pytest.raises(ConfigError, match=r"at least 3 classes with 5 samples each.*2 classes \(0: 6, 1: 6\)"):
        check_scorable([0, 1] * 6, min_classes=3, min_per_class=5)
    check_scorable([0, 0, 1, 1])
    check_scorable(["ants", "bees", "ants", "bees"])


@pytest.mark.parametrize("call", [
    lambda: logme(np.ones(4), [0, 1, 0, 1]),  # 1-D features
    lambda: logme([[0.0], [np.nan]], [0, 1]),  # not finite
    lambda: logme(np.ones((4, 2)), [0, 1, 0]),  # length mismatch
    lambda: logme(np.ones((3, 2)), [0, 1, -1]),  # negative id
    lambda: logme(np.ones((3, 2)), [0.5, 1, 0]),  # not a class id
    lambda: logme(np.ones((3, 2)), np.ones(4), regression=True),
    lambda: leep([0.5, 0.5], [0, 1]),
    lambda: leep([[1.5, -0.5], [0.5, 0.5]], [0, 1]),
    lambda: h_score(np.ones((2, 2, 2)), [0, 1]),
    lambda: h_score(np.ones((3, 2)), [[0], [1], [0]]),
    lambda: kendall_tau([1, 2], [1, 2, 3]),
    lambda: kendall_tau([1], [1]),
])
def test_invalid_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
