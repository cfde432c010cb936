"""Reading a finished run, and writing files into it safely (public: plugins may import this module).

A run folder (`runs/<plugin>-<YYYYmmdd-HHMMSS>/`) holds `model.keras`, `zoo.json` (plugin,
backbone, weights, classes, input signature, recipe and plugin options, metrics, versions),
`history.csv`, `plots/`, `MODEL_CARD.md`, `checkpoints/` and `logs/`.

Example (a plugin's command that re-scores a run):

```python
from zoo.runs import open_run, write_json

run = open_run("runs/tabular-fraud-20260101-120000")   # or open_run() for the newest
labels, scores = run.scores("validation")              # the run's model on its own split
run.options["cost_fn"], run.recipe.seed
meta = run.meta                                          # zoo.json, as a dict
write_json(run.path / "my_report.json", {...})           # temporary file + rename
```
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import RunError
from zoo.training.rundir import (RUN_FILE, atomic_write_text, newest_run, read_run, sha256_file,  # noqa: F401
                                 write_json)

__all__ = ["Run", "open_run", "read_run", "newest_run", "write_json", "atomic_write_text", "sha256_file",
           "library_versions", "saved_scores", "RUN_FILE"]


def saved_scores(run: str | Path, split: str = "validation"):
    """`(labels, scores)` of a split as `zoo finetune` saved them in the run (`scores.npz`), or None.

    Reads a file only (no TensorFlow, no model run): what a `Plugin.report_sections` hook uses.
    Example: `pair = saved_scores(run_dir, "validation")`.
    """
    from zoo.report_html import load_scores

    return load_scores(run, split)


def library_versions(*extra: str) -> dict[str, str]:
    """Versions of Python, keras-zoo, TensorFlow, Keras, keras-hub, numpy (and `extra` distributions)."""
    from importlib import metadata

    from zoo import __version__

    versions = {"python": platform.python_version(), "keras-zoo": __version__}
    for name in ("tensorflow", "keras", "keras-hub", "numpy", *extra):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


@dataclass
class Run:
    """A complete run: its folder and `zoo.json`, with lazy access to its plugin, model and data."""

    path: Path
    meta: dict[str, Any]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def plugin(self):
        """The installed plugin that made the run (`PluginError` when it is not installed)."""
        if "plugin" not in self._cache:
            from zoo import registry

            self._cache["plugin"] = registry.get_plugin(self.meta["plugin"])
        return self._cache["plugin"]

    @property
    def recipe(self):
        """The run's resolved `Recipe`."""
        if "recipe" not in self._cache:
            self._cache["recipe"] = self.plugin.resolve_recipe(overrides=self.meta["recipe"], origin=str(self.path))
        return self._cache["recipe"]

    @property
    def options(self):
        """The run's plugin options (`zoo.api.Options`)."""
        return self.plugin.options_for(self.recipe)

    def model(self):
        """`model.keras`, loaded in Keras safe mode (the plugin's layers registered first)."""
        if "model" not in self._cache:
            from zoo.loading import load_keras_model

            self._cache["model"] = load_keras_model(self.path / "model.keras", self.meta, self.plugin)
        return self._cache["model"]

    def data(self, source: str | None = None):
        """The `DataBundle` the plugin reads from `source` (default: the run's own data) with the run's recipe."""
        from zoo import contract

        source = source if source is not None else self.meta.get("data")
        return contract.load_bundle(self.plugin, self.recipe, self.options, source)

    def scores(self, split: str = "validation", source: str | None = None):
        """`(labels, scores)` numpy arrays of the run's model on a split (None, None when the split is absent)."""
        from zoo.training.features import compute_features

        dataset = getattr(self.data(source), split)
        if dataset is None:
            return None, None
        if self.recipe.max_samples is not None:
            dataset = dataset.take(self.recipe.max_samples)
        scores, labels = compute_features(self.model(), dataset)
        return labels, scores


def open_run(path: str | Path | None = None, runs_dir: str | Path = "runs") -> Run:
    """The complete run at `path`, or the newest complete one under `runs_dir`; `RunError` otherwise."""
    path = Path(path) if path is not None else newest_run(runs_dir)
    meta = read_run(path)
    if not (path / "model.keras").is_file():
        raise RunError(f"run {path} has no model.keras; it did not finish, or the file was removed")
    return Run(path, meta)
