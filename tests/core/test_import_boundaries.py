"""The import-linter contracts that `make test` runs really catch a plugin importing private core modules."""

import configparser
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def run_lint(config: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    return subprocess.run([str(LINT), "--config", str(config), "--no-cache"], capture_output=True, text=True,
                          env=env, cwd=config.parent)


def test_the_repository_keeps_its_import_contracts():
    out = run_lint(ROOT / ".importlinter")
    assert out.returncode == 0, out.stdout[-3000:]
    assert "3 kept, 0 broken" in out.stdout


def test_a_plugin_importing_the_engine_breaks_the_contract(tmp_path):
    (tmp_path / "zoo_fake").mkdir()
    (tmp_path / "zoo_fake" / "__init__.py").write_text("from zoo.api import Plugin\n")
    (tmp_path / "zoo_fake" / "data.py").write_text("def f():\n    from zoo.training.recipe import Recipe\n")
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    config["importlinter"]["root_packages"] = "\nzoo\nzoo_fake"
    contract = config["importlinter:contract:plugins-public-api"]
    contract["source_modules"] = "\nzoo_fake"
    for section in [s for s in config.sections() if s.startswith("importlinter:contract:") and s != contract.name]:
        config.remove_section(section)
    path = tmp_path / ".importlinter"
    with open(path, "w") as fh:
        config.write(fh)
    out = run_lint(path, tmp_path)
    assert out.returncode == 1, out.stdout[-3000:]
    assert "BROKEN" in out.stdout and "zoo_fake.data -> zoo.training.recipe" in out.stdout
    (tmp_path / "zoo_fake" / "data.py").write_text("def f():\n    from zoo.runs import open_run\n")
    assert run_lint(path, tmp_path).returncode == 0
