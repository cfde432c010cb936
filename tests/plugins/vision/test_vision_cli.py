"""The vision plugin through the installed `zoo` command: bad input exits 2 naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vision_helpers import class_folder, demo_cache, run_zoo, write_corrupt, write_image  # noqa: F401


def _corrupt(root: Path) -> tuple[str, str]:
    class_folder(root, {"a": 3, "b": 3})
    write_corrupt(root / "b" / "broken.png")
    return str(root), "b/broken.png"


def _empty_class(root: Path) -> tuple[str, str]:
    class_folder(root, {"a": 3, "b": 3})
    (root / "hollow").mkdir()
    return str(root), "hollow"


def _single_class(root: Path) -> tuple[str, str]:
    class_folder(root, {"lonely": 5})
    return str(root), "lonely"


def _mixed_channels(root: Path) -> tuple[str, str]:
    class_folder(root, {"a": 3, "b": 3})
    write_image(root / "a" / "gray.png", mode="L")
    return str(root), "a/gray.png"


def _csv_missing_file(root: Path) -> tuple[str, str]:
    for i in range(4):
        write_image(root / f"{i}.png", seed=i)
    (root / "labels.csv").write_text("path,label\n0.png,a\n1.png,b\n2.png,a\ngone.png,b\n3.png,b\n")
    return str(root / "labels.csv"), "gone.png"


@pytest.mark.parametrize("make", [_corrupt, _empty_class, _single_class, _mixed_channels, _csv_missing_file],
                         ids=["corrupt", "empty-class", "single-class", "mixed-channels", "csv-missing-file"])
def test_bad_data_exits_2_naming_the_file(make, tmp_path, demo_cache):
    data, name = make(tmp_path / "data")
    out = run_zoo("finetune", "--plugin", "vision", "--data", data, "-o", "image_size=32",
                  "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path, env={"KERAS_ZOO_CACHE": str(demo_cache)})
    assert out.returncode == 2, out.stdout + out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and name in errors[0], out.stderr
    assert "Traceback" not in out.stderr


def test_offline_download_exits_2_naming_the_ways_out(tmp_path, demo_cache):
    data = class_folder(tmp_path / "data", {"a": 3, "b": 3})
    offline = {"KERAS_HOME": str(tmp_path / "keras_home"), "https_proxy": "http://127.0.0.1:9",
               "HTTPS_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "no_proxy": "",
               "NO_PROXY": "", "KERAS_ZOO_CACHE": str(demo_cache)}
    out = run_zoo("finetune", "--plugin", "vision", "--backbone", "mobilenet_v3_small", "--data", str(data),
                  "-o", "image_size=32", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path, env=offline)
    assert out.returncode == 2, out.stdout + out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, out.stderr
    assert "--weights PATH" in errors[0] and "--weights none" in errors[0]


def test_plugins_info_lists_the_backbones():
    out = run_zoo("plugins", "info", "vision", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert set(info["backbones"]) == {"mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
                                      "efficientnet_v2_b0", "efficientnet_lite0", "efficientnet_lite1",
                                      "efficientnet_lite2", "resnet50", "convnext_tiny"}
    assert info["backbones"]["mobilenet_v2"]["parameters"] == "2.26M"
    assert info["contract"] == 2
    assert info["options"]["image_size"]["default"] == 128 and info["options"]["image_size"]["min"] == 32
    assert info["options"]["flip"]["choices"] == ["none", "horizontal", "vertical", "horizontal_and_vertical"]
    assert all(option["help"] for option in info["options"].values())


def test_bad_option_exits_2_naming_it(tmp_path, demo_cache):
    out = run_zoo("finetune", "--plugin", "vision", "-o", "image_size=16", "--runs-dir", str(tmp_path / "runs"),
                  cwd=tmp_path, env={"KERAS_ZOO_CACHE": str(demo_cache)})
    assert out.returncode == 2, out.stdout + out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "image_size" in errors[0] and ">= 32" in errors[0], out.stderr


@pytest.mark.slow
def test_finetune_with_no_other_argument(tmp_path, demo_cache):
    """`zoo finetune --plugin vision`: demo data, shipped MobileNetV2 weights, offline, default recipe."""
    out = run_zoo("finetune", "--plugin", "vision", cwd=tmp_path,
                  env={"KERAS_ZOO_CACHE": str(demo_cache), "https_proxy": "http://127.0.0.1:9",
                       "HTTPS_PROXY": "http://127.0.0.1:9"})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    runs = list((tmp_path / "runs").glob("vision-*"))
    assert len(runs) == 1
    meta = json.loads((runs[0] / "zoo.json").read_text())
    assert meta["status"] == "complete" and meta["weights"] == "imagenet"
    assert meta["metrics"]["validation"]["accuracy"] >= 0.65
    assert (runs[0] / "model.keras").is_file() and (runs[0] / "plots" / "confusion_matrix.png").is_file()
