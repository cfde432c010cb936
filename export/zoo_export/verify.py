"""Parity of an exported artifact with its Keras model.

The artifact runs in its own runtime on the same samples as the Keras model; the report gives
the largest and mean absolute output difference and, for classifiers, how often both make the
same decision:

- multiclass (more than one output column): top-1 agreement;
- binary / multilabel: agreement of the thresholded decisions (0.5 on probabilities; 0 when
  the outputs are logits, i.e. leave [0, 1]);
- regression: no agreement (None).

A caller that knows better what agreement means (a task kind of its own, a decision
threshold chosen on validation) passes `agreement`, a function `(reference, produced) ->
(name, fraction)` or None (compare by value only); `task_kind` is then only a label.

Per-format tolerances (`tolerance_for`):

| quantize | passes when |
| --- | --- |
| none     | every output within atol 1e-4 + rtol 1e-5 * |keras| |
| float16  | every output within atol 1e-2 + rtol 1e-3 * |keras| |
| dynamic, int8 | decision agreement >= min_agreement (0.95); regression: max diff <= 5% of the Keras output range |

Observed agreement on N samples cannot tell 0.98 from 1.0 when N is 45: one decision is 0.022.
For classifiers, quantised exports therefore also report an *estimated* agreement
(`pairwise_top1_agreement`, `pairwise_threshold_agreement`): each sample's shift of its decision
score under the artifact (in log-odds) is applied to every sample's Keras margin, N x N pairs,
and the fraction of pairs whose decision would not flip is the estimate. It assumes how far
quantisation moves a score does not depend on how close that score is to its boundary. It is a
gate only when asked for (`min_estimated_agreement`): on the demos' test splits (45-256 rows) it
has read both above and below the agreement observed there, and splits that small cannot settle
how far to trust it.

`ExportOptions.atol` replaces the float tolerance with a plain absolute one (rtol 0) and, for
dynamic/int8, adds it as a second condition.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from zoo_export.api import ExportOptions, Runner
from zoo_export.errors import ExportError

logger = logging.getLogger(__name__)

TASK_KINDS = ("multiclass", "binary", "multilabel", "regression")


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """What an artifact must meet. Unset fields are not checked.

    Args:
        atol, rtol: outputs must satisfy |artifact - keras| <= atol + rtol * |keras|.
        min_agreement: smallest decision agreement (classifiers); where it is set, the estimated
            agreement is reported for the decisions that have one (top-1, thresholded).
        min_estimated_agreement: smallest estimated agreement (`pairwise_top1_agreement`,
            `pairwise_threshold_agreement`); an artifact whose decisions have no estimate fails it.
        range_fraction: for regression without atol: max diff <= fraction * keras range.
        hint: what to try when it fails (shown in the reason).
    """

    atol: float | None = None
    rtol: float = 0.0
    min_agreement: float | None = None
    range_fraction: float | None = None
    hint: str = ""
    min_estimated_agreement: float | None = None


def tolerance_for(options: ExportOptions | None = None, calibration_used: int | None = None) -> Tolerance:
    """The tolerance for an export with `options` (see the module table).

    Example:

    ```python
    tolerance_for(ExportOptions(quantize="float16"))   # Tolerance(atol=0.01, rtol=0.001, ...)
    ```
    """
    options = options or ExportOptions()
    mode = options.quantize
    if mode in ("none", "float16"):
        atol, rtol = (1e-4, 1e-5) if mode == "none" else (1e-2, 1e-3)
        if options.atol is not None:
            atol, rtol = options.atol, 0.0
        hint = "" if mode == "none" else "try --quantize none"
        return Tolerance(atol=atol, rtol=rtol, hint=hint)
    if mode == "int8":
        used = calibration_used or options.calibration_samples
        hint = (
            f"try more --calibration-samples (used {used}), --quantize float16 or "
            "--quantize dynamic"
        )
    else:
        hint = "try --quantize float16 or --quantize none"
    return Tolerance(
        atol=options.atol,
        min_agreement=options.min_agreement,
        range_fraction=0.05 if options.atol is None else None,
        hint=hint,
        min_estimated_agreement=options.min_estimated_agreement,
    )


@dataclasses.dataclass
class VerificationReport:
    """Result of `verify`: how close the artifact came to Keras, and whether that is enough."""

    max_abs_diff: float
    mean_abs_diff: float
    agreement: float | None
    n_samples: int
    passed: bool
    reason: str
    task_kind: str = "multiclass"
    agreement_kind: str | None = None
    tolerance: dict[str, Any] = dataclasses.field(default_factory=dict)
    estimated_agreement: float | None = None  # from the N x N pairs of shift and margin (quantised exports)
    latency_ms: float | None = None        # the artifact in its runtime, one sample, median
    keras_latency_ms: float | None = None  # the Keras model on the same sample, measured alongside

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what the sidecar stores under "verification")."""
        return dataclasses.asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        """The report as a JSON string; `kwargs` go to `json.dumps` (e.g. indent=2)."""
        return json.dumps(self.to_dict(), **kwargs)


#: batch-1 calls timed per side (after one warm-up call), alternating artifact and Keras
LATENCY_REPEATS = 7


def batch1_latency_ms(runners: Sequence[Runner], samples: Mapping[str, np.ndarray],
                      repeats: int = LATENCY_REPEATS) -> list[float]:
    """Median milliseconds of one-sample calls of each runner, measured alternately on one sample."""
    import time

    one = {name: np.asarray(value)[:1] for name, value in samples.items()}
    times: list[list[float]] = [[] for _ in runners]
    for run in runners:
        run(one)
    for _ in range(repeats):
        for i, run in enumerate(runners):
            start = time.perf_counter()
            run(one)
            times[i].append(time.perf_counter() - start)
    return [float(np.median(t)) * 1000.0 for t in times]


#: probabilities are read in log space clipped here (a quantised softmax outputs exact zeros)
_LOG_FLOOR = 1e-7
#: how far below zero a tie lost to a lower class index puts a margin (it flips under strict <)
_TIE = 1e-9


def _in_unit(values: np.ndarray) -> bool:
    values = np.asarray(values)
    return bool(values.size) and bool(np.all((values >= 0) & (values <= 1)))


def _log_scores(values: np.ndarray, probabilities: bool) -> np.ndarray:
    """Log-probabilities when the outputs are probabilities; logits are taken as they are."""
    values = np.asarray(values, np.float64)
    return np.log(np.clip(values, _LOG_FLOOR, 1.0)) if probabilities else values


def _logit(values: np.ndarray) -> np.ndarray:
    values = np.clip(np.asarray(values, np.float64), _LOG_FLOOR, 1 - _LOG_FLOOR)
    return np.log(values) - np.log1p(-values)


def _pairs_flipped(margins: np.ndarray, pushes: np.ndarray, *, inclusive: bool = False) -> float:
    """The fraction of (i, j) pairs with margins[j] < pushes[i] (<= when `inclusive`): push i flips margin j."""
    margins = np.sort(np.asarray(margins, np.float64).reshape(-1))
    pushes = np.asarray(pushes, np.float64).reshape(-1)
    flipped = np.searchsorted(margins, pushes, side="right" if inclusive else "left").sum()
    return float(flipped / (margins.size * pushes.size))


def pairwise_top1_agreement(reference: np.ndarray, produced: np.ndarray) -> float:
    """Estimated top-1 agreement: every sample's margin shift applied to every sample's margin.

    Per row (the last axis holds the classes; per-token outputs count each position): Keras'
    margin is its top-1 score minus its runner-up's, in log space; the artifact's shift is how much
    it moved the margin of that top class over its strongest rival in the artifact (a row whose top
    class the artifact ranks below another has a negative new margin; a tie with a lower class index
    counts as lost, as argmax breaks ties). Pair (i, j) flips when j's margin plus i's shift falls
    below zero, so a sample paired with itself is its own decision. Returns the fraction of the N x N
    pairs that do not flip.

    Example:

    ```python
    pairwise_top1_agreement(np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([[0.8, 0.2], [0.5, 0.5]]))
    ```
    """
    probabilities = _in_unit(reference)  # one scale for both: read from Keras' outputs
    ref, out = _log_scores(reference, probabilities), _log_scores(produced, probabilities)
    classes = ref.shape[-1] if ref.ndim else 0
    if classes < 2 or not ref.size:
        return float("nan")
    ref, out = ref.reshape(-1, classes), out.reshape(-1, classes)
    order = np.argsort(-ref, axis=-1, kind="stable")  # ties: the lower index first, as argmax
    rows = np.arange(len(ref))
    top = order[:, 0]
    margin = ref[rows, top] - ref[rows, order[:, 1]]
    kept = out[rows, top]
    rivals = out.copy()
    rivals[rows, top] = -np.inf
    new_margin = kept - rivals.max(axis=-1)
    lower = np.arange(classes)[None, :] < top[:, None]
    lost_tie = np.any(lower & (rivals == kept[:, None]), axis=-1)
    new_margin = np.where(lost_tie, np.minimum(new_margin, 0.0) - _TIE, new_margin)
    return float(1.0 - _pairs_flipped(margin, margin - new_margin))


def pairwise_threshold_agreement(reference: np.ndarray, produced: np.ndarray, threshold: float) -> float:
    """Estimated agreement of decisions `score >= threshold` (binary, multilabel: every cell).

    Scores in [0, 1] are compared in log-odds, others as they are. Each cell's shift under the
    artifact (signed, so that a bias of the quantised model pushes every cell the same way) is
    applied to every cell's Keras score; returns the fraction of the N x N pairs whose decision
    stays. Example: `pairwise_threshold_agreement(ref, out, 0.5)`.
    """
    ref = np.asarray(reference, np.float64).reshape(-1)
    out = np.asarray(produced, np.float64).reshape(-1)
    probabilities = _in_unit(ref)
    to = _logit if probabilities else (lambda v: np.asarray(v, np.float64))
    z, cut = to(ref), float(to(np.float64(threshold)))
    if not z.size:
        return float("nan")
    shift = to(out) - z
    above = z >= cut
    # a cell above the cut flips when a shift is below -(z - cut); one below when it reaches cut - z
    flipped = 0.0
    if above.any():
        flipped += _pairs_flipped(z[above] - cut, -shift) * above.sum()
    if (~above).any():
        flipped += _pairs_flipped(cut - z[~above], shift, inclusive=True) * (~above).sum()
    return float(1.0 - flipped / z.size)


def _decisions(outputs: np.ndarray, kind: str, threshold: float) -> np.ndarray:
    if kind == "top-1":
        return np.argmax(outputs, axis=-1)  # per sample, or per token for (N, T, C) outputs
    return outputs >= threshold


def _infer_task_kind(reference: np.ndarray) -> str:
    if reference.ndim >= 2 and reference.shape[-1] > 1:
        return "multiclass"
    if np.all((reference >= 0) & (reference <= 1)):
        return "binary"
    return "regression"


def verify(
    keras_model: Any,
    runner: Runner,
    samples: Mapping[str, np.ndarray],
    *,
    task_kind: str | None,
    tolerance: Tolerance,
    agreement: Callable[[np.ndarray, np.ndarray], tuple[str, float] | None] | None = None,
    comparable: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
    estimate: Callable[[np.ndarray, np.ndarray], float | None] | None = None,
) -> VerificationReport:
    """Run `runner` and the Keras model on `samples` and compare their outputs.

    Args:
        keras_model: the float32 Keras model (or a Runner of it).
        runner: the artifact loaded by its own runtime.
        samples: {input name: N raw samples}.
        task_kind: "multiclass", "binary", "multilabel", "regression"; None infers it
            (several output columns: multiclass; outputs in [0, 1]: binary; else regression).
        tolerance: from `tolerance_for`.
        agreement: optional `(reference, produced) -> (name, fraction) | None` replacing the
            kind's decision agreement; `task_kind` is then any label.
        comparable: optional `(reference, produced) -> (reference', produced')`: the arrays the
            value tolerance compares, for outputs that must be paired first (a ranked list of
            detections); by default the outputs themselves.
        estimate: optional `(reference, produced) -> fraction | None`: the estimated agreement,
            reported for a tolerance with `min_agreement` and gated by `min_estimated_agreement`.
            Without it, the kinds' own decisions are estimated (`pairwise_top1_agreement`,
            `pairwise_threshold_agreement`); with a custom `agreement` and no `estimate`, nothing is.

    Example:

    ```python
    report = verify(model, exporter.load("model.tflite"), {"image": x_val[:64]},
                    task_kind="multiclass", tolerance=tolerance_for(options))
    assert report.passed, report.reason
    ```
    """
    from zoo_export._keras import KerasRunner

    reference_runner = keras_model if isinstance(keras_model, Runner) else KerasRunner(keras_model)
    if agreement is None and task_kind is not None and task_kind not in TASK_KINDS:
        raise ExportError(f"unknown task kind {task_kind!r}; one of {', '.join(TASK_KINDS)}")
    reference = reference_runner(samples)
    produced = runner(samples)
    n = len(reference)
    tol_json = dataclasses.asdict(tolerance)
    kind = task_kind or _infer_task_kind(reference)

    def fail(reason: str, **fields: Any) -> VerificationReport:
        base = {"max_abs_diff": float("nan"), "mean_abs_diff": float("nan"), "agreement": None}
        base.update(fields)
        return VerificationReport(
            n_samples=n, passed=False, reason=reason, task_kind=kind, tolerance=tol_json, **base
        )

    if produced.shape != reference.shape:
        if produced.size != reference.size:
            return fail(f"output shape {produced.shape} differs from Keras' {reference.shape}")
        produced = produced.reshape(reference.shape)
    if not np.all(np.isfinite(produced)):
        bad = int(np.sum(~np.isfinite(produced)))
        return fail(f"{bad} output values are NaN or infinite")

    left, right = comparable(reference, produced) if comparable is not None else (reference, produced)
    diff = np.abs(np.asarray(right, np.float64) - np.asarray(left, np.float64))
    max_diff, mean_diff = (float(diff.max()), float(diff.mean())) if diff.size else (0.0, 0.0)

    custom = agreement
    agreement = agreement_kind = None
    if custom is not None:
        decided = custom(reference, produced)
        if decided is not None:
            agreement_kind, agreement = decided[0], float(decided[1])
    elif kind != "regression":
        if kind == "multiclass" and reference.shape[-1] > 1:
            agreement_kind = "top-1"
            threshold = 0.0
        else:
            in_unit = bool(np.all((reference >= 0) & (reference <= 1)))
            threshold = 0.5 if in_unit else 0.0
            agreement_kind = f"decision@{threshold:g}"
        same = _decisions(produced, agreement_kind, threshold) == _decisions(
            reference, agreement_kind, threshold
        )
        agreement = float(np.mean(same))
        if estimate is None:
            estimate = ((lambda r, p: pairwise_top1_agreement(r, p)) if agreement_kind == "top-1"
                        else (lambda r, p: pairwise_threshold_agreement(r, p, threshold)))
    estimated = None
    if estimate is not None and tolerance.min_agreement is not None and agreement is not None:
        value = estimate(reference, produced)
        estimated = None if value is None or not np.isfinite(value) else float(value)

    problems, checks = [], []
    if tolerance.atol is not None:
        excess = diff - (tolerance.atol + tolerance.rtol * np.abs(np.asarray(left, np.float64)))
        label = f"atol {tolerance.atol:.1e}" + (
            f" + rtol {tolerance.rtol:.0e}*|keras|" if tolerance.rtol else ""
        )
        if excess.size and float(excess.max()) > 0:
            over = int(np.sum(excess > 0))
            problems.append(f"max |diff| {max_diff:.3e} exceeds {label} ({over} values over)")
        else:
            checks.append(f"max |diff| {max_diff:.3e} within {label}")
    if tolerance.min_agreement is not None and agreement is not None:
        if agreement < tolerance.min_agreement:
            problems.append(
                f"{agreement_kind} agreement {agreement:.3f} below {tolerance.min_agreement:.3f}"
            )
        else:
            checks.append(f"{agreement_kind} agreement {agreement:.3f} >= {tolerance.min_agreement:.3f}")
        wanted = tolerance.min_estimated_agreement
        if estimated is not None and wanted is not None and estimated < wanted:
            problems.append(f"{agreement_kind} agreement {estimated:.3f} estimated from every pair of score shift "
                            f"and decision margin, below {wanted:.3f}")
        elif estimated is not None:
            checks.append(f"estimated {estimated:.3f}" + ("" if wanted is None else f" >= {wanted:.3f}"))
    if tolerance.min_estimated_agreement is not None and estimated is None:
        problems.append(f"--min-estimated-agreement {tolerance.min_estimated_agreement:g} was asked for, but this "
                        "model's outputs have no estimated agreement (it covers top-1 and thresholded decisions); "
                        "drop the option")
    if tolerance.range_fraction is not None and agreement is None:
        span = max(float(np.ptp(left)) if np.size(left) else 0.0, 1e-6)
        limit = tolerance.range_fraction * span
        if max_diff > limit:
            problems.append(
                f"max |diff| {max_diff:.3e} exceeds {tolerance.range_fraction:.0%} of the Keras "
                f"output range ({limit:.3e})"
            )
        else:
            checks.append(f"max |diff| {max_diff:.3e} within {tolerance.range_fraction:.0%} of range")
    if not problems and not checks:
        raise ExportError("the tolerance checks nothing: set atol or min_agreement")

    passed = not problems
    where = f" on {n} samples"
    if passed:
        reason = "; ".join(checks) + where
    else:
        reason = "; ".join(problems) + where
        if tolerance.hint:
            reason += f"; {tolerance.hint}"
    # what a deployment pays per request, only for an artifact that is kept
    latency, keras_latency = batch1_latency_ms([runner, reference_runner], samples) if passed else (None, None)
    report = VerificationReport(
        max_abs_diff=max_diff,
        mean_abs_diff=mean_diff,
        agreement=agreement,
        n_samples=n,
        passed=passed,
        reason=reason,
        task_kind=kind,
        agreement_kind=agreement_kind,
        tolerance=tol_json,
        estimated_agreement=estimated,
        latency_ms=latency,
        keras_latency_ms=keras_latency,
    )
    logger.info("verification %s: %s", "passed" if passed else "FAILED", reason)
    return report
