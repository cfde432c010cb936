"""Export a Keras model to one format, verify it, and only then put it in place.

`export_model` converts into a temporary name next to the destination, runs the artifact in
its own runtime next to the Keras model, and renames it to the destination only when
verification passes. The sidecar `<artifact>.zoo.json` is written atomically after it.
A failed export leaves nothing that looks finished: no artifact, no sidecar, no temp files.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from zoo_export import __version__
from zoo_export.api import (
    Exporter,
    ExportOptions,
    InputSignature,
    normalize_signature,
    signature_to_json,
)
from zoo_export.errors import ExportError
from zoo_export.progress import Progress
from zoo_export.verify import VerificationReport, tolerance_for, verify as verify_artifact

logger = logging.getLogger(__name__)

SKIPPED = "skipped (--no-verify)"

# module imported -> distribution whose version the sidecar records
_LIBRARIES = {
    "tensorflow": "tensorflow",
    "keras": "keras",
    "numpy": "numpy",
    "onnx": "onnx",
    "tf2onnx": "tf2onnx",
    "onnxruntime": "onnxruntime",
    "ai_edge_litert": "ai-edge-litert",
}


@dataclasses.dataclass
class ExportReport:
    """What `export_model` did: where the artifact is, how it was made, how it verified."""

    path: Path
    sidecar_path: Path
    format: str
    quantize: str
    verification: VerificationReport | None
    sha256: str
    size_bytes: int
    details: dict[str, Any]
    sidecar: dict[str, Any]


def sidecar_path_for(artifact: str | os.PathLike[str]) -> Path:
    """`model.tflite` -> `model.tflite.zoo.json` (a SavedModel directory gets `<dir>.zoo.json`)."""
    return Path(str(Path(artifact)) + ".zoo.json")


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix())


def artifact_digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(sha256 hex, size in bytes) of a file, or of a directory's files.

    For a directory the hash runs over its files in sorted relative-path order, each
    contributing `<relative posix path>\\0<content>`.

    Example:

    ```python
    sha, size = artifact_digest("model.tflite")
    ```
    """
    root = Path(path)
    digest = hashlib.sha256()
    size = 0
    for file in _files(root):
        if root.is_dir():
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
    return digest.hexdigest(), size


def library_versions() -> dict[str, str]:
    """Versions of the export libraries that this process has imported."""
    versions = {"keras-zoo-export": __version__}
    for module, dist in _LIBRARIES.items():
        if module not in sys.modules:
            continue
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = str(getattr(sys.modules[module], "__version__", "unknown"))
    return versions


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    text = json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        _remove(Path(tmp))
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _apply_umask(path: Path) -> None:
    """Give files made by mkstemp / mkdtemp (0600 / 0700) the modes the user's umask asks for."""
    mask = _umask()
    if path.is_dir() and not path.is_symlink():
        os.chmod(path, 0o777 & ~mask)
        for root, dirs, files in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o777 & ~mask)
            for name in files:
                os.chmod(os.path.join(root, name), 0o666 & ~mask)
    elif path.exists():
        os.chmod(path, 0o666 & ~mask)


def _remove_stale_partials(out_path: Path, suffix: str) -> None:
    """Temporary files an earlier, killed export of `out_path` left next to it."""
    stem = out_path.name[: -len(suffix)] if suffix and out_path.name.endswith(suffix) else out_path.name
    sidecar = sidecar_path_for(out_path).name
    for pattern in (f".{stem}.partial-*", f".{out_path.name}.old-*", f".{sidecar}.partial-*"):
        for stale in out_path.parent.glob(pattern):
            logger.info("removing %s, left by an interrupted export", stale)
            _remove(stale)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def _temp_artifact(out_path: Path, suffix: str) -> Path:
    """Reserve `.<stem>.partial-XXXX<suffix>` next to `out_path` (a dir when suffix is "")."""
    stem = out_path.name[: -len(suffix)] if suffix and out_path.name.endswith(suffix) else out_path.name
    prefix = f".{stem}.partial-"
    if suffix:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=out_path.parent)
        os.close(fd)
        return Path(tmp)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=out_path.parent))


def _place(tmp: Path, out_path: Path) -> None:
    """Rename the verified artifact to `out_path`, replacing what is there."""
    if out_path.is_dir() and not out_path.is_symlink():
        # os.replace cannot replace a non-empty directory: move the old one aside first.
        old = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.old-", dir=out_path.parent))
        old.rmdir()
        os.replace(out_path, old)
        try:
            os.replace(tmp, out_path)
        except BaseException:
            os.replace(old, out_path)
            raise
        shutil.rmtree(old, ignore_errors=True)
    elif tmp.is_dir() and out_path.exists():
        out_path.unlink()
        os.replace(tmp, out_path)
    else:
        os.replace(tmp, out_path)


def _check_samples(
    name: str, data: Mapping[str, np.ndarray] | None, signature: InputSignature
) -> None:
    if data is None:
        return
    missing = [n for n in signature if n not in data]
    if missing:
        raise ExportError(f"{name} lack inputs {missing}; the model takes {list(signature)}")
    lengths = {len(np.asarray(data[n])) for n in signature}
    if len(lengths) != 1 or 0 in lengths:
        raise ExportError(f"{name}: inputs must have the same, non-zero number of samples")


def _int8_fallback(model: Any, reference: Any, exporter: Any, tmp: Path, runner: Any, full: VerificationReport,
                   details: dict[str, Any], *, options: ExportOptions, signature: InputSignature,
                   samples: Mapping[str, np.ndarray], calibration: Mapping[str, np.ndarray],
                   check: Any) -> VerificationReport:
    """Full-integer int8 fell short: refuse (`strict_int8`) or keep the fewest operations in float.

    Returns the report of the artifact now at `tmp` (a failed one when no candidate passed);
    the search's record goes into `details["int8_fallback"]`.
    """
    from zoo_export.verify import batch1_latency_ms

    if options.strict_int8:
        raise ExportError(
            f"full-integer int8 fell short: {full.reason}. --strict-int8 keeps no operation in float; "
            f"drop it to let up to --float-ops {options.float_ops} operations stay in float. Nothing was written"
        )
    full_size = tmp.stat().st_size
    full_latency = batch1_latency_ms([runner], samples)[0]
    logger.warning("full-integer int8 fell short (%s); searching for operations to keep in float", full.reason)
    reports: list[VerificationReport] = []

    def check_flatbuffer(flatbuffer: bytes) -> VerificationReport:
        tmp.write_bytes(flatbuffer)
        candidate = exporter.load(str(tmp))
        reports.append(check(candidate))
        del candidate
        return reports[-1]

    with Progress("keeping operations in float until int8 verifies", tick=True):
        flatbuffer, record = exporter.float_fallback(model, options=options, input_signature=signature,
                                                     calibration=calibration, check=check_flatbuffer,
                                                     reference=reference)
    record["full_int8"] = {"agreement": full.agreement, "estimated_agreement": full.estimated_agreement,
                           "reason": full.reason, "size_bytes": full_size,
                           "latency_ms": full_latency}
    details["int8_fallback"] = record
    if flatbuffer is None:
        best = max((r.agreement for r in reports if r.agreement is not None), default=None)
        shown = "n/a" if best is None else f"{best:.3f}"
        estimates = [r.estimated_agreement for r in reports if r.estimated_agreement is not None]
        if options.min_estimated_agreement is not None and estimates:
            shown += f" (estimated {max(estimates):.3f} at best, against --min-estimated-agreement " \
                     f"{options.min_estimated_agreement:g})"
        raise ExportError(
            f"the tflite int8 artifact failed verification: full-integer {full.reason}; keeping up to "
            f"{options.float_ops} operations in float, int16 activations, activations quantised at run time or "
            f"float compute on int8 weights reached agreement "
            f"{shown} at best ({len(reports)} tries). Try a larger --float-ops or --quantize float16. "
            f"Nothing was written"
        )
    tmp.write_bytes(flatbuffer)
    report = reports[-1]
    details["integer_only"] = False
    details["int8_scheme"] = record["scheme"]
    details["float_ops"] = [op["op"] + " " + op["tensor"] for op in record["float_ops"]]
    if hasattr(exporter, "io_details"):
        details["io"] = exporter.io_details(str(tmp))
    record["size_ratio_to_full_int8"] = len(flatbuffer) / full_size
    if report.latency_ms is not None and full_latency:
        record["latency_ratio_to_full_int8"] = report.latency_ms / full_latency
    return report


def export_model(
    model: Any,
    exporter: Exporter,
    out_path: str | os.PathLike[str],
    *,
    samples: Mapping[str, np.ndarray] | None,
    calibration: Mapping[str, np.ndarray] | None = None,
    options: ExportOptions | None = None,
    input_signature: Mapping[str, Any] | None = None,
    task_kind: str | None = None,
    sidecar: Mapping[str, Any] | None = None,
    verify: bool = True,
    force: bool = False,
    agreement: Any = None,
    comparable: Any = None,
    estimate: Any = None,
) -> ExportReport:
    """Convert `model` with `exporter`, verify the artifact, then write it and its sidecar.

    Args:
        model: a Keras model (a mixed-precision one is rebuilt in float32 first).
        exporter: e.g. `zoo_export.tflite.exporter`.
        out_path: where the artifact goes (a directory for SavedModel).
        samples: {input name: raw samples} the artifact and Keras are compared on.
        calibration: {input name: raw samples} for int8 calibration; None falls back to
            `samples` (with a warning) when int8 needs them.
        options: `ExportOptions` (quantisation, opset, tolerances).
        input_signature: {name: (shape without batch, dtype)}; None reads it from the model.
        task_kind: "multiclass", "binary", "multilabel", "regression" or None (inferred).
        sidecar: caller's metadata (source run, plugin, class names, preprocessing...),
            written first into `<artifact>.zoo.json`.
        verify: False skips verification (the sidecar says so).
        agreement: optional `(reference, produced) -> (name, fraction) | None`: what decision
            agreement means for this model (see `zoo_export.verify.verify`).
        comparable: optional `(reference, produced) -> (reference', produced')`: the arrays the
            value tolerance compares (see `zoo_export.verify.verify`).
        estimate: optional `(reference, produced) -> fraction | None`: the estimated agreement of a
            quantised artifact, reported and gated by `options.min_estimated_agreement`
            (see `zoo_export.verify.verify`).
        force: replace an existing `out_path`.

    Raises:
        ExportError: `out_path` exists without `force`, conversion failed, or the artifact
            failed verification (the message carries the reason; nothing is left behind).

    Example:

    ```python
    from zoo_export.export import export_model
    from zoo_export.tflite import exporter
    report = export_model(model, exporter, "exports/model.tflite",
                          samples={"image": x_val[:128]}, calibration={"image": x_train[:200]},
                          options=ExportOptions(quantize="int8"), task_kind="multiclass",
                          sidecar={"source_run": "runs/vision-20250101-120000"})
    print(report.verification.reason)
    ```
    """
    from zoo_export import _keras

    options = options or ExportOptions()
    exporter.check_options(options)
    out_path = Path(out_path)
    if out_path.exists() or out_path.is_symlink():
        if not force:
            raise ExportError(f"{out_path} already exists; pass --force to overwrite it")
        logger.info("%s exists and will be replaced (--force)", out_path)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, no permission, a read-only file system
        raise ExportError(f"cannot write to {out_path.parent} ({exc.strerror or type(exc).__name__}); pass --out "
                          "in a folder you can write to") from None
    if not os.access(out_path.parent, os.W_OK | os.X_OK):
        raise ExportError(f"{out_path.parent} is not writable; pass --out in a folder you can write to")

    export_source, rebuilt = _keras.as_float32(model)
    signature = (
        normalize_signature(input_signature)
        if input_signature is not None
        else _keras.input_signature_from_model(export_source)
    )
    if verify and samples is None:
        raise ExportError("verification needs samples; pass samples or verify=False (--no-verify)")
    _check_samples("samples", samples, signature)
    if options.quantize == "int8" and calibration is None:
        if samples is None:
            raise ExportError("--quantize int8 needs calibration data")
        logger.warning("no calibration data given: calibrating int8 on the verification samples")
        calibration = samples
    _check_samples("calibration data", calibration, signature)

    _remove_stale_partials(out_path, exporter.suffix)
    tmp = _temp_artifact(out_path, exporter.suffix)
    try:
        logger.info("exporting %s (quantize=%s) to %s", exporter.name, options.quantize, tmp)
        with Progress(f"converting to {exporter.name}", tick=True):
            details = dict(
                exporter.export(
                    export_source,
                    str(tmp),
                    options=options,
                    input_signature=signature,
                    calibration=calibration if options.quantize == "int8" else None,
                )
                or {}
            )
        if rebuilt:
            details["rebuilt_float32_from"] = model.dtype_policy.name
        report: VerificationReport | None = None
        if verify:
            runner = exporter.load(str(tmp))
            tolerance = tolerance_for(options, details.get("calibration_samples"))
            reference = _keras.KerasRunner(export_source)  # traced once for every comparison below
            with Progress("verifying against Keras", tick=True):
                report = verify_artifact(
                    reference, runner, samples, task_kind=task_kind, tolerance=tolerance,
                    agreement=agreement, comparable=comparable, estimate=estimate,
                )
            if not report.passed and options.quantize == "int8" and hasattr(exporter, "float_fallback"):
                report = _int8_fallback(export_source, reference, exporter, tmp, runner, report, details,
                                        options=options, signature=signature, samples=samples,
                                        calibration=calibration,
                                        check=lambda r: verify_artifact(reference, r, samples,
                                                                        task_kind=task_kind, tolerance=tolerance,
                                                                        agreement=agreement,
                                                                        comparable=comparable,
                                                                        estimate=estimate))
            del runner  # release the runtime's hold on the file before renaming
            if not report.passed:
                raise ExportError(
                    f"the {exporter.name} artifact failed verification: {report.reason}. "
                    f"Nothing was written to {out_path}"
                )
        sha256, size = artifact_digest(tmp)
        data: dict[str, Any] = dict(sidecar or {})
        ours: dict[str, Any] = {
            "artifact": out_path.name,
            "format": exporter.name,
            "quantization": {
                "mode": options.quantize,
                "io_dtype": options.io_dtype,
                "calibration_samples": details.get("calibration_samples"),
                "scheme": details.get("int8_scheme", "full-integer int8") if options.quantize == "int8" else None,
                "float_ops": details.get("float_ops", []),
            },
            "export_options": options.to_dict(),
            "export_details": details,
            "input_signature": signature_to_json(signature),
            "task_kind": task_kind,
            "verification": report.to_dict() if report is not None else SKIPPED,
            "versions": library_versions(),
            "sha256": sha256,
            "size_bytes": size,
            "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        clashes = sorted(set(data) & set(ours))
        if clashes:
            logger.warning("sidecar keys %s are set by the exporter; the caller's values are replaced", clashes)
        data.update(ours)
        sidecar_file = sidecar_path_for(out_path)
        # Order matters for a kill at any instant: the old artifact and sidecar go first, then the
        # new sidecar, then the artifact. An artifact is never left without its own sidecar; at
        # worst a sidecar waits for an artifact that is not there (and predict says so).
        if out_path.exists() or out_path.is_symlink():
            _remove(sidecar_file)
            _remove(out_path)
        _write_json_atomic(sidecar_file, data)
        _apply_umask(tmp)
        _place(tmp, out_path)
    except BaseException:
        _remove(tmp)
        raise
    logger.info("wrote %s (%d bytes) and %s", out_path, size, sidecar_file.name)
    return ExportReport(
        path=out_path,
        sidecar_path=sidecar_file,
        format=exporter.name,
        quantize=options.quantize,
        verification=report,
        sha256=sha256,
        size_bytes=size,
        details=details,
        sidecar=data,
    )
