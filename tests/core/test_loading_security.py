"""A run folder or sidecar cannot choose which Python module `zoo predict` / `zoo export` import."""

import json

import numpy as np

from zoo.deploy import export_run, predict
from zoo.testing import registered
from zoo.training.finetune import finetune


def test_custom_objects_module_comes_from_the_installed_plugin_not_the_file(toy_plugin, tmp_path, monkeypatch):
    from zoo_toy import make_arrays

    evil = tmp_path / "cwd"
    evil.mkdir()
    marker = tmp_path / "imported.txt"
    (evil / "zoo_evil_layers.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.syspath_prepend(str(evil))
    monkeypatch.chdir(evil)
    recipe = toy_plugin.resolve_recipe(overrides={"epochs": 1, "options": {"samples": 60}})
    with registered(toy_plugin):
        result = finetune(toy_plugin, recipe, runs_dir=tmp_path / "runs", verbose=0)
        meta_path = result.path / "zoo.json"
        meta = json.loads(meta_path.read_text())
        meta["custom_objects_module"] = "zoo_evil_layers"
        meta_path.write_text(json.dumps(meta))
        report = export_run(result.path, "onnx")
        sidecar = json.loads(report.sidecar_path.read_text())
        sidecar["custom_objects_module"] = "zoo_evil_layers"
        report.sidecar_path.write_text(json.dumps(sidecar))
        x, y = make_arrays(3, 1)
        np.savez(tmp_path / "in.npz", x=x, y=y)
        assert len(predict(result.path, [str(tmp_path / "in.npz")])) == 3
        assert len(predict(report.path, [str(tmp_path / "in.npz")])) == 3
    assert not marker.exists()
