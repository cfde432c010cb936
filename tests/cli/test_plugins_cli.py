"""Plugin discovery through real pip-installed distributions and the `zoo` command."""

import json

import pytest

from zoo_cli_helpers import pip_install_target, write_distribution, zoo

GOOD = '''
from zoo.api import BackboneSpec, DataAdapter, Plugin, TaskSpec

def build(weights, signature):
    import keras
    inputs = keras.Input((8,), name="x")
    return keras.Model(inputs, keras.layers.Dense(4, name="dense")(inputs))

plugin = Plugin(name="{name}", domain="dermatology", summary="{summary}",
                backbones={{"tiny": BackboneSpec("tiny", build, lambda m: [["dense"]])}},
                default_backbone="tiny", task=TaskSpec("binary"), data=DataAdapter())
'''

BROKEN = '''
raise RuntimeError("this plugin needs a licence file")
'''

INVALID = '''
from zoo.api import DataAdapter, Plugin
plugin = Plugin(name="Bad_Name", domain="x", summary="", backbones={}, default_backbone="none",
                task="ordinal", data=DataAdapter())
'''

EXPORTER = '''
from zoo_export.api import Exporter

class CsvWeights(Exporter):
    name = "csvweights"
    suffix = ".csv"
    description = "weights as CSV (a test format)"

exporter = CsvWeights()
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A folder with third-party distributions pip-installed into it."""
    src = tmp_path_factory.mktemp("src")
    target = tmp_path_factory.mktemp("site")
    dists = [
        write_distribution(src, "keras-zoo-dermatology", "zoo_derm", GOOD.format(name="dermatology", summary="skin"),
                           {"keras_zoo.plugins": {"dermatology": "zoo_derm:plugin"}}),
        write_distribution(src, "keras-zoo-broken", "zoo_broken", BROKEN,
                           {"keras_zoo.plugins": {"broken": "zoo_broken:plugin"}}),
        write_distribution(src, "keras-zoo-invalid", "zoo_invalid", INVALID,
                           {"keras_zoo.plugins": {"invalid": "zoo_invalid:plugin"}}),
        write_distribution(src, "keras-zoo-dup-a", "zoo_dup_a", GOOD.format(name="dup", summary="a"),
                           {"keras_zoo.plugins": {"dup": "zoo_dup_a:plugin"}}),
        write_distribution(src, "keras-zoo-dup-b", "zoo_dup_b", GOOD.format(name="dup", summary="b"),
                           {"keras_zoo.plugins": {"dup": "zoo_dup_b:plugin"}}),
        write_distribution(src, "keras-zoo-csvweights", "zoo_csvweights", EXPORTER,
                           {"keras_zoo.exporters": {"csvweights": "zoo_csvweights:exporter"}}),
    ]
    for dist in dists:
        pip_install_target(dist, target)
    return target


@pytest.fixture(scope="module")
def listing(site):
    out = zoo("plugins", "list", "--json", path=site)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    return {(e["name"], e["distribution"]): e for e in data["plugins"]}, {e["name"]: e for e in data["exporters"]}


def test_third_party_plugin_is_listed_with_its_distribution(listing):
    plugins, _ = listing
    entry = plugins[("dermatology", "keras-zoo-dermatology")]
    assert entry["status"] == "ok"
    assert entry["domain"] == "dermatology"
    assert entry["version"] == "1.2.3"


def test_plugin_that_raises_on_import_is_broken_and_others_work(listing):
    plugins, _ = listing
    entry = plugins[("broken", "keras-zoo-broken")]
    assert entry["status"] == "broken"
    assert "RuntimeError: this plugin needs a licence file" in entry["reason"]
    assert plugins[("dermatology", "keras-zoo-dermatology")]["status"] == "ok"


def test_plugin_breaking_the_contract_is_broken_with_every_reason(listing):
    plugins, _ = listing
    reason = plugins[("invalid", "keras-zoo-invalid")]["reason"]
    assert plugins[("invalid", "keras-zoo-invalid")]["status"] == "broken"
    assert "lowercase words joined by dashes" in reason and "zoo.tasks.Task" in reason


def test_two_plugins_with_one_name_are_both_reported_and_neither_is_picked(listing, site):
    plugins, _ = listing
    a, b = plugins[("dup", "keras-zoo-dup-a")], plugins[("dup", "keras-zoo-dup-b")]
    assert a["status"] == b["status"] == "conflict"
    assert "keras-zoo-dup-a" in a["reason"] and "keras-zoo-dup-b" in a["reason"]
    out = zoo("plugins", "info", "dup", path=site)
    assert out.returncode == 2
    assert "conflict" in out.stderr and "keras-zoo-dup-b" in out.stderr


def test_third_party_exporter_is_listed(listing):
    _, exporters = listing
    assert exporters["csvweights"]["status"] == "ok"
    assert exporters["csvweights"]["distribution"] == "keras-zoo-csvweights"


def test_plugins_list_does_not_import_tensorflow(site):
    code = ("import sys; from zoo.cli import cli; "
            "cli(['plugins', 'list'], standalone_mode=False); "
            "print('TF_LOADED' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'TF_FREE')")
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "dermatology" in out.stdout
    assert out.stdout.strip().endswith("TF_FREE")


def test_plugins_info_shows_backbones_and_task(site):
    out = zoo("plugins", "info", "dermatology", "--json", path=site)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["task"]["kind"] == "binary"
    assert list(info["backbones"]) == ["tiny"]


def test_unknown_plugin_exits_2_and_names_installed_plugins(site):
    out = zoo("finetune", "--plugin", "nope", path=site)
    assert out.returncode == 2
    assert out.stderr.startswith("Error: no plugin named 'nope' is installed")
    assert "dermatology" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_version():
    out = zoo("--version")
    assert out.returncode == 0 and "0.1.0" in out.stdout
