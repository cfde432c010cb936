"""Shared fixtures: the toy test plugin and its pip-installed copy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
TESTS = Path(__file__).parent
TOY = TESTS / "toy_plugin"
sys.path.insert(0, str(TOY))
sys.path.insert(0, str(TESTS))

from zoo_cli_helpers import pip_install_target  # noqa: E402


@pytest.fixture(scope="session")
def toy_target(tmp_path_factory) -> Path:
    """The toy plugin pip-installed into a folder; put it on PYTHONPATH to make `zoo` see it."""
    target = tmp_path_factory.mktemp("toy_target")
    pip_install_target(TOY, target)
    return target


@pytest.fixture
def toy_plugin():
    from zoo_toy import plugin

    return plugin

