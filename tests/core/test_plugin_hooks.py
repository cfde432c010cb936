"""The optional plugin hooks: `analyze` (domain metrics, threshold) and `DataBundle.deployment`."""

import dataclasses
import json

import numpy as np
import pytest

from zoo.deploy import export_run, predict
from zoo.training.finetune import finetune


def test_analyze_and_deployment_reach_the_run_the_sidecar_and_predict(toy_plugin, tmp_path):
    from zoo_toy import ToyData, make_arrays

    seen = {}

    class DeployData(ToyData):
        def demo(self, recipe, options):
            bundle = super().demo(recipe, options)
            bundle.deployment = {"palette": ["r", "g", "b"]}
            return bundle

        def read_inputs(self, paths, input_signature, options, deployment):
            seen["deployment"] = deployment
            seen["options"] = dict(options)
            return super().read_inputs(paths, input_signature, options, deployment)

    def analyze(run_dir, recipe, options, validation, test):
        seen["analyze_options"] = dict(options)
        labels, scores = validation
        seen["validation"] = (labels.shape, scores.shape)
        (run_dir / "plots" / "extra.txt").write_text("domain plot")
        top1 = float(np.mean(scores.argmax(-1) == labels))
        return {"decision_threshold": 0.4, "metrics": {"validation": {"top1_again": top1}},
                "deployment": {"unit": "pixels"}, "notes": "checked"}

    plugin = dataclasses.replace(toy_plugin, data=DeployData(), analyze=analyze)
    recipe = plugin.resolve_recipe(overrides={"strategy": "full", "epochs": 2, "options": {"samples": 300}})
    result = finetune(plugin, recipe, runs_dir=tmp_path, verbose=0)
    meta = json.loads((result.path / "zoo.json").read_text())
    assert meta["decision_threshold"] == 0.4
    assert meta["metrics"]["validation"]["top1_again"] == pytest.approx(result.metrics["accuracy"], abs=1e-6)
    assert meta["deployment"] == {"palette": ["r", "g", "b"], "unit": "pixels"}
    assert meta["analysis"] == {"notes": "checked"}
    assert seen["validation"] == ((45,), (45, 3))
    assert "Decision threshold: 0.4000" in (result.path / "MODEL_CARD.md").read_text()
    assert "top1_again" in (result.path / "MODEL_CARD.md").read_text()

    from zoo.testing import registered

    with registered(plugin):
        report = export_run(result.path, "onnx")
        sidecar = json.loads(report.sidecar_path.read_text())
        assert sidecar["deployment"] == meta["deployment"] and sidecar["decision_threshold"] == 0.4
        x, y = make_arrays(4, 5)
        np.savez(tmp_path / "in.npz", x=x, y=y)
        rows = predict(report.path, [str(tmp_path / "in.npz")])
        assert seen["deployment"] == meta["deployment"]
        assert seen["options"] == seen["analyze_options"] == {"samples": 300}
        assert len(rows) == 4 and all(r["label"] in ("red", "green", "blue") for r in rows)
