"""int8 where full-integer falls short: a one-epoch linear probe of the vision demo.

A head trained for one epoch leaves most decisions near ties (test accuracy about 0.4 on five
classes), so full-integer int8 of MobileNetV2 flips a fifth of them. `zoo export --quantize int8`
falls back (operations in float, then whole-model schemes) until verification passes;
`--strict-int8` refuses with the agreement figure; the artifact then decides like Keras through
`zoo predict` on the demo's images.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from zoo_export.export import sidecar_path_for

from vision_helpers import demo_cache, run_zoo  # noqa: F401  (fixture)

GATE = 0.9  # the one-epoch probe's near ties: the fallback reached 0.956 on its 45 validation images


@pytest.fixture(scope="module")
def probe(tmp_path_factory, demo_cache) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("int8-probe")
    env = {"KERAS_ZOO_CACHE": str(demo_cache)}
    out = run_zoo("finetune", "--plugin", "vision", "--strategy", "linear-probe", "--epochs", "1",
                  "--runs-dir", str(root / "runs"), cwd=root, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return next((root / "runs").glob("vision-*")), env


@pytest.mark.slow
def test_one_epoch_probe_exports_int8_with_the_fallback_and_predicts_like_keras(probe, tmp_path):
    run, env = probe
    strict = run_zoo("export", str(run), "--format", "tflite", "--quantize", "int8", "--strict-int8",
                     "--min-agreement", str(GATE), env=env)
    assert strict.returncode == 2, strict.stdout + strict.stderr
    errors = [line for line in strict.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "--strict-int8" in errors[0], strict.stderr
    full = float(re.search(r"top-1 agreement (0\.\d+)", errors[0]).group(1))
    assert full < GATE  # full-integer int8 falls short on this model
    assert not list(run.glob("exports/*.tflite"))  # refused: nothing written

    out = run_zoo("export", str(run), "--format", "tflite", "--quantize", "int8", "--min-agreement", str(GATE),
                  env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    artifact = run / "exports" / "model-int8.tflite"
    sidecar = json.loads(sidecar_path_for(artifact).read_text())
    quantization = sidecar["quantization"]
    assert quantization["scheme"] != "full-integer int8" and isinstance(quantization["float_ops"], list)
    fallback = sidecar["export_details"]["int8_fallback"]
    assert fallback["passed"] and fallback["full_int8"]["agreement"] == pytest.approx(full, abs=1e-3)
    assert fallback["tries"][-1]["scheme"] == quantization["scheme"] and fallback["tries"][-1]["passed"]
    assert sidecar["verification"]["agreement"] >= GATE

    # `zoo predict` of the run (Keras) and of the int8 file on every demo image
    images = Path(json.loads((run / "zoo.json").read_text())["data_metadata"]["source"])
    rows = {}
    for name, target in (("keras", run), ("int8", artifact)):
        out = run_zoo("predict", str(target), str(images), "--json", env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        rows[name] = {row["input"]: row["label"] for row in json.loads(out.stdout)}
    assert len(rows["keras"]) >= 250 and rows["keras"].keys() == rows["int8"].keys()
    same = sum(rows["keras"][f] == rows["int8"][f] for f in rows["keras"]) / len(rows["keras"])
    assert same >= GATE, same
