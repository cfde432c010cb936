"""vision-detect: the conformance kit passes on the plugin. The end-to-end run (fine-tune, the three
exports verified by box agreement, predict with --draw) is the tutorial's test, test_detect_tutorial.py."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow
SMALL = {"demo_scenes": 48, "image_size": 64}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("detect-cache")


def test_conformance_kit(tmp_path, cache, monkeypatch):
    from zoo.testing import check_plugin
    from zoo_vision_detect import plugin

    monkeypatch.setenv("KERAS_ZOO_CACHE", str(cache))
    report = check_plugin(plugin, recipe={"options": SMALL, "batch_size": 8}, backbones=["mobilenet_v2"],
                          workdir=tmp_path)
    assert report["predict"]["rows"] > 0
