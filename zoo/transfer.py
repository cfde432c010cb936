"""Transferability scores (public): how well pretrained features suit a target task, before fine-tuning.

Each score needs one forward pass of the pretrained model over a labelled sample of the
target data, and no training. Scores rank candidate models; only their order means
something, and only within one target sample (compare it with `kendall_tau`).

- `logme`: LogME (You et al., ICML 2021), the evidence of a Bayesian linear model on the
  features, per sample, averaged over the one-hot class columns (or regression targets).
- `leep`: LEEP (Nguyen et al., ICML 2020), from the source head's class probabilities.
- `h_score`: H-score (Bao et al., ICIP 2019), between-class over total feature covariance.
- `check_scorable`: a `ConfigError` when the sample has too few classes or samples per class.

Pass features raw, as the model gives them (the penultimate layer): LogME is not scale
invariant and the papers score raw features, so nothing is standardised here.

Example:

```python
from zoo.transfer import check_scorable, kendall_tau, leep, logme
check_scorable(labels, class_names=["ants", "bees"])
scores = {name: logme(feats, labels) for name, feats in features_by_model.items()}
kendall_tau(list(scores.values()), fine_tuned_accuracies)   # 1.0: LogME ranked the models right
```
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from zoo.errors import ConfigError

__all__ = ["logme", "leep", "h_score", "kendall_tau", "check_scorable"]

_TINY = 1e-30  # floor for denominators and log arguments
_LOGME_ITERATIONS = 11  # as the paper's reference code; it converges in two or three
_LOGME_TOLERANCE = 1e-3  # relative change of alpha / beta


def _features(features, name: str = "features") -> np.ndarray:
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] == 0:
        raise ValueError(f"{name} must be a 2-D (samples, dims) array with samples, got shape {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return f


def _class_ids(labels, n: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"labels must be a 1-D array of {n} class ids (one per sample), got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating)
                                                   and np.isfinite(y).all() and (y == np.round(y)).all())):
        raise ValueError(f"labels must be integer class ids 0..C-1, got dtype {y.dtype}")
    if (y < 0).any():
        raise ValueError(f"labels must be class ids 0..C-1, got {int(y.min())}")
    return y.astype(np.int64)


def logme(features, labels, *, regression=False) -> float:
    """LogME: the maximised log evidence per sample of a linear model on `features` (higher is better).

    The model is y = f^T w + noise, w ~ N(0, 1/alpha I), noise ~ N(0, 1/beta); alpha and beta
    come from the paper's fixed-point iteration (at most 11 steps, until alpha / beta changes
    by less than 0.1%), run for all target columns at once in the singular basis of the
    features (thin SVD, so N < D and N >= D cost min(N, D)^2 * max(N, D)). The evidence is
    evaluated exactly at the final alpha and beta, with log det(alpha I + beta F^T F) over all
    D dimensions. Classification (`labels` class ids): the mean over the one-hot columns of the
    classes present. `regression=True`: `labels` is (N,) or (N, K) targets, mean over the K.

    Example: `logme(penultimate_features, labels)`; compare the floats of several models.
    """
    f = _features(features)
    n, d = f.shape
    if regression:
        y = np.asarray(labels, dtype=np.float64)
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        if y.ndim != 2 or len(y) != n or not np.isfinite(y).all():
            raise ValueError(f"regression targets must be finite, shape ({n},) or ({n}, K), got {np.shape(labels)}")
    else:
        ids = _class_ids(labels, n)
        y = (ids[:, None] == np.unique(ids)[None, :]).astype(np.float64)
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    sigma = (s**2)[:, None]  # (r, 1), r = min(N, D)
    z = u.T @ y  # (r, C): the targets in the column space of F
    z2 = z**2
    outside = np.maximum((y**2).sum(0) - z2.sum(0), 0.0)  # ||y - U U^T y||^2, (C,)

    def terms(alpha, beta):
        den = alpha + beta * sigma  # (r, C)
        gamma = (beta * sigma / den).sum(0)
        m2 = (beta**2 * sigma * z2 / den**2).sum(0)  # ||m||^2
        res2 = (alpha**2 * z2 / den**2).sum(0) + outside  # ||F m - y||^2
        return den, gamma, m2, res2

    alpha, beta = np.ones(y.shape[1]), np.ones(y.shape[1])
    active = np.ones(y.shape[1], dtype=bool)  # a converged column stops, as if it ran alone
    for _ in range(_LOGME_ITERATIONS):
        _, gamma, m2, res2 = terms(alpha, beta)
        new_alpha = gamma / np.maximum(m2, _TINY)
        new_beta = np.maximum(n - gamma, _TINY) / np.maximum(res2, _TINY)
        ratio = alpha / beta
        converged = np.abs(new_alpha / new_beta - ratio) <= _LOGME_TOLERANCE * ratio
        alpha, beta = np.where(active, new_alpha, alpha), np.where(active, new_beta, beta)
        active &= ~converged
        if not active.any():
            break
    den, _, m2, res2 = terms(alpha, beta)
    logdet = np.log(den).sum(0) + (d - len(s)) * np.log(alpha)
    evidence = (n / 2 * np.log(beta) + d / 2 * np.log(alpha) - n / 2 * np.log(2 * np.pi)
                - beta / 2 * res2 - alpha / 2 * m2 - logdet / 2)
    return float(np.mean(evidence / n))


def leep(source_probs, labels) -> float:
    """LEEP: mean log-likelihood of the labels under the source head mapped to the target classes (<= 0).

    `source_probs` (N, Z) are the pretrained head's probabilities (e.g. ImageNet softmax);
    P(y, z) is their label-weighted mean, P(y | z) = P(y, z) / P(z), and each sample scores
    log sum_z P(y_i | z) theta(x_i)_z.

    Example: `leep([[1.0, 0.0], [0.0, 1.0]], [0, 1])` is 0.0 (the source classes are the targets).
    """
    theta = _features(source_probs, "source_probs")
    if (theta < 0).any():
        raise ValueError("source_probs must be probabilities (non-negative), got a negative value")
    y = _class_ids(labels, len(theta))
    onehot = np.eye(int(y.max()) + 1)[y]  # (N, C)
    joint = onehot.T @ theta / len(theta)  # (C, Z): P(y, z)
    conditional = joint / np.maximum(joint.sum(0, keepdims=True), _TINY)  # P(y | z)
    eep = (theta @ conditional.T)[np.arange(len(y)), y]
    return float(np.mean(np.log(np.maximum(eep, _TINY))))


def h_score(features, labels, *, shrinkage: float | str | None = None) -> float:
    """H-score: tr(cov(f)^+ cov(E[f | y])), the class-mean spread the features explain (higher is better).

    The pseudo-inverse keeps constant or collinear feature dimensions harmless; the
    covariance normalisation (N or N - 1) cancels. With fewer samples than dimensions the
    plain score saturates at C - 1 for every model (the sample covariance is singular and the
    classes always separate in its span); `shrinkage` fixes that as Ibrahim et al. (2022)
    propose: `cov(f)` becomes `(1 - a) cov(f) + a mean(diag(cov(f))) I`, with `a` a number in
    [0, 1] or `"auto"` for the Ledoit-Wolf estimate of `a`.

    Example: `h_score([[0.0], [2.0], [4.0], [6.0]], [0, 0, 1, 1])` is 0.8 (= 4 / 5).
    """
    f = _features(features)
    y = _class_ids(labels, len(f))
    f = f - f.mean(0)
    classes, inverse = np.unique(y, return_inverse=True)
    means = np.stack([f[inverse == k].mean(0) for k in range(len(classes))])
    g = means[inverse]  # each sample's class mean, centred since f is
    cov_f, cov_g = f.T @ f / len(f), g.T @ g / len(f)
    if shrinkage is not None:
        if shrinkage == "auto":
            from sklearn.covariance import ledoit_wolf_shrinkage

            a = float(ledoit_wolf_shrinkage(f, assume_centered=True))
        else:
            a = float(shrinkage)
            if not 0.0 <= a <= 1.0:
                raise ValueError(f"shrinkage must be in [0, 1] or 'auto', got {shrinkage!r}")
        cov_f = (1.0 - a) * cov_f + a * np.trace(cov_f) / cov_f.shape[0] * np.eye(cov_f.shape[0])
    return float(np.trace(np.linalg.pinv(cov_f, hermitian=True) @ cov_g))


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b between two score lists (ties as tau-b; NaN when a list is constant).

    Example: `kendall_tau([0.1, 0.5, 0.9], [70.0, 80.0, 90.0])` is 1.0 (the same order).
    """
    x, w = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
    if len(x) != len(w) or len(x) < 2 or not (np.isfinite(x).all() and np.isfinite(w).all()):
        raise ValueError(f"kendall_tau needs two finite lists of the same length >= 2, got {len(x)} and {len(w)}")
    i, j = np.triu_indices(len(x), k=1)
    sx, sw = np.sign(x[i] - x[j]), np.sign(w[i] - w[j])  # 0 for a tie
    denominator = np.sqrt(np.abs(sx).sum() * np.abs(sw).sum())
    return float((sx * sw).sum() / denominator) if denominator > 0 else float("nan")


def check_scorable(labels, *, min_per_class: int = 2, min_classes: int = 2,
                   class_names: Sequence[str] | None = None) -> None:
    """Raise `ConfigError` unless `labels` hold `min_classes` classes with `min_per_class` samples each.

    `class_names[i]` names class id i in the message (else the ids are shown).

    Example: `check_scorable([0] * 40, class_names=["ants", "bees"])` raises "transferability scores
    need at least 2 classes with 2 samples each; the sample has 1 class (ants: 40)".
    """
    classes, counts = np.unique(np.asarray(labels).reshape(-1), return_counts=True)

    def named(pairs) -> str:
        def name(c):
            if class_names is not None and np.issubdtype(type(c), np.integer) and 0 <= c < len(class_names):
                return str(class_names[c])
            return str(c)
        shown = [f"{name(c)}: {int(k)}" for c, k in pairs[:10]]
        return ", ".join(shown + ([f"{len(pairs) - 10} more"] if len(pairs) > 10 else []))

    need = (f"transferability scores need at least {min_classes} classes with {min_per_class} samples each; "
            f"the sample has {len(classes)} class{'' if len(classes) == 1 else 'es'}")
    if len(classes) < min_classes:
        raise ConfigError(f"{need} ({named(list(zip(classes, counts)))})")
    short = [(c, k) for c, k in zip(classes, counts) if k < min_per_class]
    if short:
        raise ConfigError(f"{need}, {len(short)} with fewer than {min_per_class} samples ({named(short)})")
