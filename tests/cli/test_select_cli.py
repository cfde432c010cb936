"""`zoo select` end to end: real ImageNet backbones on the vision demo, the recipe it writes, `--backbone auto`."""

from __future__ import annotations

import json

import pytest
import yaml

from zoo_cli_helpers import zoo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One feature cache for the module, so the second selection reads what the first computed."""
    return {"KERAS_ZOO_CACHE": str(tmp_path_factory.mktemp("zoo_cache"))}


def _select(tmp_path, cache, *extra):
    out = tmp_path / "selection"
    result = zoo("select", "--plugin", "vision", "--backbone", "mobilenet_v2", "--backbone", "efficientnet_lite0",
                 "--samples", "120", "--depths", "2", "--out", str(out), *extra, cwd=tmp_path, env=cache)
    return result, out


def test_select_ranks_pretrained_above_random_and_writes_a_recipe(tmp_path, cache):
    result, out = _select(tmp_path, cache)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "selection.json").read_text())
    names = [c["name"] for c in report["candidates"]]
    # two backbones x their weights (random only for the default backbone, the baseline) x two depths
    assert sorted(names) == sorted(["mobilenet_v2/imagenet", "mobilenet_v2/imagenet@-1", "mobilenet_v2/none",
                                    "mobilenet_v2/none@-1", "efficientnet_lite0/imagenet",
                                    "efficientnet_lite0/imagenet@-1"])
    by_name = {c["name"]: c for c in report["candidates"]}
    # ImageNet features separate the demo's shapes better than random ones, at both depths
    for depth in ("", "@-1"):
        assert by_name[f"mobilenet_v2/imagenet{depth}"]["logme"] > by_name[f"mobilenet_v2/none{depth}"]["logme"]
    # LEEP needs the ImageNet head: at the backbone's output, for ImageNet weights only
    assert by_name["efficientnet_lite0/imagenet"]["leep"] < 0 and by_name["mobilenet_v2/none"]["leep"] is None
    assert by_name["efficientnet_lite0/imagenet@-1"]["leep"] is None
    logme = [c["logme"] for c in report["candidates"]]
    assert logme == sorted(logme, reverse=True) and report["samples"] == 120 and report["classes"] == 5
    best = report["candidates"][0]
    assert report["best"] == best["name"] and best["weights"] == "imagenet"

    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recipe == {"backbone": best["backbone"], "weights": "imagenet", "strategy": "partial",
                      "trainable_blocks": best["cut"] + 1}
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["rank", "candidate", "block", "LogME"]
    assert lines[1].split()[1] == best["name"]
    assert f"--config {out / 'recipe.yaml'}" in result.stdout

    # the same selection again: features come from the cache
    again, out = _select(tmp_path, cache, "--json")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert all(c["cached"] for c in second["candidates"])
    assert [c["logme"] for c in second["candidates"]] == pytest.approx(logme)


def test_skips_what_cannot_be_had_and_respects_the_budget(tmp_path, cache):
    out = tmp_path / "sel"
    result = zoo("select", "--plugin", "vision", "--backbone", "mobilenet_v2", "--backbone", "resnet50",
                 "--backbone", "efficientnet_lite1", "--samples", "60", "--depths", "1", "--budget", "0.001",
                 "--out", str(out), cwd=tmp_path, env=cache)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "selection.json").read_text())
    skipped = {c["name"]: c["skipped"] for c in report["candidates"] if c["skipped"]}
    scored = [c["name"] for c in report["candidates"] if not c["skipped"]]
    assert scored == ["mobilenet_v2/imagenet"]  # the first candidate always runs
    assert skipped["efficientnet_lite1/imagenet"] == "over the budget of 0.001 s"
    assert "skipped: over the budget" in result.stdout


def test_too_few_samples_is_one_line(tmp_path, cache):
    result = zoo("select", "--plugin", "vision", "--samples", "4", "--out", str(tmp_path / "s"), cwd=tmp_path,
                 env=cache)
    assert result.returncode == 2
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "need at least 2 classes with 2 samples each" in error[0], result.stderr
    assert not (tmp_path / "s" / "selection.json").exists()


def test_finetune_backbone_auto_records_the_selection(toy_target, tmp_path, cache):
    result = zoo("finetune", "--plugin", "toy", "--backbone", "auto", "--epochs", "1", "--runs-dir",
                 str(tmp_path / "runs"), path=toy_target, env=cache)
    assert result.returncode == 0, result.stderr
    assert "best: toy_cnn/none" in result.stdout
    (run,) = [p for p in (tmp_path / "runs").iterdir() if (p / "zoo.json").is_file()]
    meta = json.loads((run / "zoo.json").read_text())
    selection = meta["selection"]
    assert selection["best"].startswith("toy_cnn/none") and selection["recipe"]["strategy"] == "full"
    assert meta["backbone"] == "toy_cnn" and meta["recipe"]["strategy"] == "full"
    # what the user set explicitly wins over the selection
    result = zoo("finetune", "--plugin", "toy", "--backbone", "auto", "--strategy", "linear-probe", "--epochs", "1",
                 "--runs-dir", str(tmp_path / "runs2"), path=toy_target, env=cache)
    assert result.returncode == 0, result.stderr
    (run,) = [p for p in (tmp_path / "runs2").iterdir() if (p / "zoo.json").is_file()]
    assert json.loads((run / "zoo.json").read_text())["recipe"]["strategy"] == "linear-probe"


def test_tabular_pretraining_run_is_a_candidate_against_none(tmp_path, cache):
    """`zoo select` finds the plugin's newest pretraining run under --runs-dir and scores it beside `none`."""
    runs = tmp_path / "runs"
    result = zoo("pretrain", "--plugin", "tabular-fraud", "--backbone", "mlp", "--epochs", "2", "--runs-dir",
                 str(runs), cwd=tmp_path, env=cache)
    assert result.returncode == 0, result.stderr
    (pretraining,) = [p for p in runs.iterdir() if (p / "zoo.json").is_file()]
    out = tmp_path / "sel"
    result = zoo("select", "--plugin", "tabular-fraud", "--backbone", "mlp", "--depths", "1", "--samples", "300",
                 "--runs-dir", str(runs), "--out", str(out), cwd=tmp_path, env=cache)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "selection.json").read_text())
    by_name = {c["name"]: c for c in report["candidates"]}
    assert set(by_name) == {"mlp/none", f"mlp/{pretraining.name}"}
    assert by_name[f"mlp/{pretraining.name}"]["weights"] == str(pretraining)
    assert all(c["skipped"] is None and c["logme"] is not None for c in by_name.values())
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recipe["weights"] == report["candidates"][0]["weights"]
    # a pretrained backbone is fine-tuned in part, random initialisation in full
    assert recipe["strategy"] == ("full" if recipe["weights"] == "none" else "partial")
