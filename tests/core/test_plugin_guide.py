"""docs/plugins.md, the plugin author's guide: it names the whole contract as the code has it, and its
worked example is a real plugin that installs with pip and passes `zoo.testing.check_plugin`."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zoo import api, data, metrics, runs, testing
from zoo.api import BackboneSpec, DataAdapter, DataBundle, Option, Plugin, Rows, TaskSpec, TensorSpec
from zoo.tasks import Task

from zoo_cli_helpers import pip_install_target, write_distribution, zoo

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
MODULE = "zoo_guide_example"


def guide_text() -> str:
    return GUIDE.read_text()


def flat(text: str) -> str:
    """The text with every run of whitespace made one space (signatures may wrap in the guide)."""
    return " ".join(text.split())


def worked_example(text: str) -> str:
    blocks = re.findall(r"^<!-- worked-example -->\n```python\n(.*?)^```$", text, flags=re.S | re.M)
    assert len(blocks) == 1, "the guide must hold exactly one ```python block after <!-- worked-example -->"
    return blocks[0]


def example_plugin_name(text: str) -> str:
    """The name the worked example's pyproject registers (the last keras_zoo.plugins entry point shown)."""
    names = re.findall(r'^\[project\.entry-points\."keras_zoo\.plugins"\]\n([a-z0-9-]+) = "\w+:plugin"$',
                       text, flags=re.M)
    assert names, "the guide shows no [project.entry-points.\"keras_zoo.plugins\"] snippet"
    return names[-1]


def load_example(source: str, tmp_path: Path):
    """The worked example imported in this process from a file (it imports no TensorFlow)."""
    path = tmp_path / "guide_example_local.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("guide_example_local", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The worked example as `zoo_guide_example/__init__.py` of a throwaway distribution, pip-installed."""
    text = guide_text()
    name = example_plugin_name(text)
    src, target = tmp_path_factory.mktemp("guide_src"), tmp_path_factory.mktemp("guide_site")
    dist = write_distribution(src, f"keras-zoo-guide-{name}", MODULE, worked_example(text),
                              {"keras_zoo.plugins": {name: f"{MODULE}:plugin"}})
    pip_install_target(dist, target)
    return name, target


def _env(target: Path) -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]))


# --------------------------------------------------------------------------- the guide names the contract

def test_every_public_name_of_zoo_api_is_in_the_guide():
    text = guide_text()
    missing = [name for name in api.__all__ if not re.search(rf"\b{re.escape(name)}\b", text)]
    assert not missing, f"docs/plugins.md does not mention {missing}"


@pytest.mark.parametrize("cls", [Plugin, BackboneSpec, DataBundle, Rows, TensorSpec, Option],
                         ids=lambda c: c.__name__)
def test_every_field_of_the_contract_dataclasses_is_in_the_guide(cls):
    text = guide_text()
    missing = [f.name for f in dataclasses.fields(cls) if not re.search(rf"`{f.name}[`(]", text)]
    assert not missing, f"docs/plugins.md does not describe {cls.__name__} field(s) {missing}"


def _default(value) -> str:
    return json.dumps(value) if isinstance(value, (str, dict)) else repr(value)


def call_form(name: str, fn) -> str:
    """`name(a, b=None, *rest)` as the guide writes a signature (strings and dicts in JSON quotes)."""
    parts = []
    fields = {f.name: f for f in dataclasses.fields(fn)} if dataclasses.is_dataclass(fn) else {}
    for p in inspect.signature(fn).parameters.values():
        if p.name == "self":
            continue
        if p.kind is p.VAR_POSITIONAL:
            parts.append("*" + p.name)
        elif p.name in fields and fields[p.name].default_factory is not dataclasses.MISSING:
            parts.append(f"{p.name}={_default(fields[p.name].default_factory())}")
        elif p.default is p.empty:
            parts.append(p.name)
        else:
            parts.append(f"{p.name}={_default(p.default)}")
    return f"{name}({', '.join(parts)})"


SIGNATURES = [
    *[(n, getattr(DataAdapter, n)) for n in ("load", "demo", "read_inputs", "group_predictions", "samples")],
    *[(n, getattr(Plugin, n)) for n in ("backbone", "resolve_recipe", "options_for", "option_specs", "validate",
                                        "describe")],
    *[(n, getattr(Task, n)) for n in ("output_units", "output_bias", "class_prior", "check_labels", "keras_loss",
                                      "keras_metrics", "resolved_loss", "resolved_metrics", "resolved_monitor",
                                      "metric_names", "score", "numpy_loss", "numpy_metric", "predicted_classes",
                                      "decode", "agreement", "to_json")],
    *[(c.__name__, c) for c in (Plugin, BackboneSpec, DataBundle, Rows, TensorSpec, Option)],
    ("TaskSpec", TaskSpec),
    ("check_plugin", testing.check_plugin), ("registered", testing.registered),
    *[(n, getattr(data, n)) for n in ("split_indices", "split_counts", "cache_dir")],
    *[(n, getattr(metrics, n)) for n in metrics.__all__],
    *[(n, getattr(runs, n)) for n in ("open_run", "read_run", "newest_run", "write_json", "atomic_write_text",
                                      "sha256_file", "library_versions")],
    *[(n, getattr(runs.Run, n)) for n in ("model", "data", "scores")],
]


@pytest.mark.parametrize("name, fn", SIGNATURES, ids=[f"{getattr(f, '__qualname__', n)}" for n, f in SIGNATURES])
def test_signatures_in_the_guide_match_the_code(name, fn):
    assert call_form(name, fn) in flat(guide_text()), f"docs/plugins.md must state {call_form(name, fn)}"


def test_the_guide_keeps_the_sections_errors_point_to_and_no_local_paths():
    text = guide_text()
    assert "\n## Augmentation\n" in text  # check_plugin's augment failure says: see docs/plugins.md, 'Augmentation'
    assert not re.search(r"(?<![\w.])/(work|tmp|home|root)/", text), "the guide names a path of one machine"


# --------------------------------------------------------------------------- the worked example

def test_the_worked_example_is_a_valid_contract_2_plugin(tmp_path):
    text = guide_text()
    module = load_example(worked_example(text), tmp_path)
    plugin = module.plugin
    assert isinstance(plugin, Plugin) and plugin.validate() == []
    assert plugin.contract == api.CONTRACT_VERSION == 2
    assert plugin.name == example_plugin_name(text)
    assert len(plugin.options) >= 2 and all(spec.help for spec in plugin.options.values())
    assert type(plugin.data).write_examples is not None and "read_inputs" in type(plugin.data).__dict__


def test_plugins_info_lists_the_examples_options_with_their_help(installed, tmp_path):
    name, target = installed
    module = load_example(worked_example(guide_text()), tmp_path)
    out = zoo("plugins", "info", name, path=target)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "plugin options (-o KEY=VALUE):" in lines
    for key, spec in module.plugin.options.items():
        assert any(line.split() == [key, *spec.help.split()] for line in lines), (key, out.stdout)
        assert spec.describe() in out.stdout
    listing = {e["name"]: e for e in json.loads(zoo("plugins", "list", "--json", path=target).stdout)["plugins"]}
    assert listing[name]["status"] == "ok", listing[name]


def test_the_installed_example_imports_without_tensorflow(installed):
    _, target = installed
    code = (f"import sys, {MODULE}; "
            f"print({MODULE}.plugin.validate(), [m for m in ('tensorflow', 'keras') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(target), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] []"


@pytest.mark.slow
def test_the_worked_example_passes_check_plugin(installed, tmp_path):
    name, target = installed
    code = (f"import json, sys\n"
            f"from zoo.testing import check_plugin\n"
            f"from {MODULE} import plugin\n"
            f"report = check_plugin(plugin, recipe={{'options': {{'units': 16}}}}, workdir=sys.argv[1])\n"
            f"print('REPORT ' + json.dumps(report, default=str))\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                         env=_env(target), timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("REPORT "))[7:])
    assert report["contract"] == 2
    assert report["backbones"] and all(info["blocks"] >= 1 for info in report["backbones"].values())
    assert report["export"]["max_abs_diff"] <= 1e-4
    rows = report["predict"]["rows"]
    assert rows > 0
    lines = 0
    for path in report["predict"]["examples"]:
        assert Path(path).is_file() and Path(path).is_relative_to(tmp_path)
        with open(path, newline="") as handle:
            lines += sum(1 for _ in csv.reader(handle)) - 1  # one row per data line, under the header
    assert rows == lines
