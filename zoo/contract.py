"""How the core calls a plugin's hooks, for each contract version it supports.

Contract 2 (current): builders and data hooks receive the plugin's `Options`;
`read_inputs` returns `Rows`; `group_predictions(rows, scores, options)`;
`pretrain(source, recipe, options, out_dir)`; `analyze(run_dir, recipe, options, validation, test)`.

Contract 1 (the first release): `build(weights, input_signature)`,
`preprocessing(input_signature)`, `load(source, recipe)`, `demo(recipe)`,
`read_inputs(paths, input_signature[, deployment=])` -> dict,
`group_predictions(paths, inputs, scores)`, `pretrain(source, recipe, out_dir)`,
`analyze(run_dir, recipe, validation, test)`, options as `DataAdapter.options` defaults.
Such a plugin keeps working: the calls below translate, and one `ZooDeprecationWarning`
says what to change. A plugin that declares no contract is detected from its signatures.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from pathlib import Path
from typing import Any, Callable

from zoo.errors import DataError, PluginError

log = logging.getLogger(__name__)

_versions: dict[int, tuple[Any, int]] = {}
_warned: set[str] = set()


def _positional(fn: Callable) -> int | None:
    """Number of positional parameters `fn` takes (None: any number, or not inspectable)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _names(fn: Callable) -> list[str]:
    try:
        return [p.name for p in inspect.signature(fn).parameters.values()]
    except (TypeError, ValueError):
        return []


def _overrides(adapter, name: str) -> bool:
    from zoo.api import DataAdapter

    return getattr(type(adapter), name, None) is not getattr(DataAdapter, name, None)


def _v1_markers(plugin) -> list[str]:
    """What in `plugin` is written to contract 1."""
    marks = []
    for key, spec in (plugin.backbones or {}).items():
        if _positional(spec.build) == 2:
            marks.append(f"backbone {key!r}: build(weights, input_signature) -> add options")
        if spec.preprocessing is not None and _positional(spec.preprocessing) == 1:
            marks.append(f"backbone {key!r}: preprocessing(input_signature) -> add options")
    data = plugin.data
    for name, old in (("load", 2), ("demo", 1)):
        if _overrides(data, name) and _positional(getattr(data, name)) == old:
            marks.append(f"DataAdapter.{name} takes the contract 1 arguments")
    if _overrides(data, "group_predictions") and _names(data.group_predictions)[:2] == ["paths", "inputs"]:
        # both forms take three arguments: contract 1's are (paths, inputs, scores)
        marks.append("DataAdapter.group_predictions(paths, inputs, scores) -> (rows, scores, options)")
    if _overrides(data, "read_inputs") and _positional(data.read_inputs) == 2:
        marks.append("DataAdapter.read_inputs(paths, input_signature) -> add options, deployment and return Rows")
    if getattr(data, "options", None) and not plugin.options:
        marks.append("DataAdapter.options -> declare Plugin.options with zoo.api.Option")
    return marks


def version_of(plugin) -> int:
    """The contract `plugin` is called with: declared, or detected from its signatures."""
    cached = _versions.get(id(plugin))
    if cached is not None and cached[0] is plugin:
        return cached[1]
    if plugin.contract is not None:
        version = int(plugin.contract)
    else:
        version = 1 if _v1_markers(plugin) else 2
    _versions[id(plugin)] = (plugin, version)
    if version == 1 and plugin.name not in _warned:
        _warned.add(plugin.name)
        marks = _v1_markers(plugin)
        what = "; ".join(marks[:3]) + ("; ..." if len(marks) > 3 else "")
        from zoo.api import ZooDeprecationWarning

        warnings.warn(f"plugin {plugin.name!r} is written to plugin contract 1 and runs through a compatibility "
                      f"layer: {what or 'declared contract=1'}. Update it and declare contract=2 (docs/plugins.md)",
                      ZooDeprecationWarning, stacklevel=2)
    return version


def signature_problems(plugin) -> list[str]:
    """Hooks whose signatures do not fit the contract the plugin declares (contract 2 only)."""
    if plugin.contract != 2:
        return []
    marks = _v1_markers(plugin)
    return [f"declares contract 2 but {m}" for m in marks]


# --------------------------------------------------------------------------- calls

def build_backbone(plugin, spec, weights, signature, options):
    if version_of(plugin) == 1:
        return spec.build(weights, signature)
    return spec.build(weights, signature, options)


def preprocessing_layer(plugin, spec, signature, options):
    if spec.preprocessing is None:
        return None
    if version_of(plugin) == 1:
        return spec.preprocessing(signature)
    return spec.preprocessing(signature, options)


def load_bundle(plugin, recipe, options, source):
    """The plugin's `DataBundle` for `source`, or its demo data when `source` is None."""
    v1 = version_of(plugin) == 1
    if source is None:
        bundle = plugin.data.demo(recipe) if v1 else plugin.data.demo(recipe, options)
    else:
        bundle = plugin.data.load(source, recipe) if v1 else plugin.data.load(source, recipe, options)
    from zoo.api import DataBundle

    if not isinstance(bundle, DataBundle):
        hook = "demo" if source is None else "load"
        raise PluginError(f"plugin {plugin.name!r}: DataAdapter.{hook} returned {type(bundle).__name__}, "
                          "not a zoo.api.DataBundle")
    if not bundle.class_names and plugin.task.uses_class_names:
        raise DataError(f"plugin {plugin.name!r} returned data without class names")
    return bundle


def read_rows(plugin, paths: list[str], signature, options, deployment):
    """`Rows` of raw inputs for `zoo predict` (contract 1 dicts are tied to `paths` when they match)."""
    from zoo.api import Rows

    data = plugin.data
    if version_of(plugin) == 1:
        if deployment:
            arrays = data.read_inputs(paths, signature, deployment=deployment)
        else:
            arrays = data.read_inputs(paths, signature)
        n = len(next(iter(arrays.values()))) if arrays else 0
        sources = list(paths) if n == len(paths) else [f"row {i}" for i in range(n)]
        rows = Rows(dict(arrays), sources, context=None)
        rows._v1_paths = list(paths)  # contract 1 group_predictions takes the paths again
        return rows
    rows = data.read_inputs(paths, signature, options, dict(deployment or {}))
    if not isinstance(rows, Rows):
        raise PluginError(f"plugin {plugin.name!r}: read_inputs returned {type(rows).__name__}, not zoo.api.Rows")
    rows.check()
    return rows


def list_inputs(plugin, paths: list[str], options) -> list[str]:
    """The units `zoo predict` reads one chunk at a time (an adapter's `list_inputs`, else the paths)."""
    lister = getattr(plugin.data, "list_inputs", None)
    if lister is None or version_of(plugin) == 1:
        return list(paths)
    units = [str(u) for u in lister(list(paths), options)]
    if not units:
        raise DataError(f"no input the {plugin.name} plugin can read in {', '.join(paths[:3])}")
    return units


def group_rows(plugin, rows, scores, options) -> list:
    if version_of(plugin) == 1:
        paths = getattr(rows, "_v1_paths", rows.sources)
        if _overrides(plugin.data, "group_predictions"):
            return plugin.data.group_predictions(paths, rows.inputs, scores)
        n = len(scores)
        if n == len(paths):
            return [(str(p), scores[i]) for i, p in enumerate(paths)]
        return [(f"row {i}", scores[i]) for i in range(n)]
    return plugin.data.group_predictions(rows, scores, options)


def run_analyze(plugin, run_dir, recipe, options, validation, test):
    if plugin.analyze is None:
        return {}
    if version_of(plugin) == 1:
        return plugin.analyze(run_dir, recipe, validation, test)
    return plugin.analyze(run_dir, recipe, options, validation, test)


def run_pretrain(plugin, source, recipe, options, out_dir):
    if version_of(plugin) == 1:
        return plugin.pretrain(source, recipe, out_dir)
    return plugin.pretrain(source, recipe, options, out_dir)


def write_examples(plugin, folder, recipe, options) -> list[str] | None:
    """Raw input files written by the adapter (None when it has no `write_examples`)."""
    writer = getattr(plugin.data, "write_examples", None)
    if writer is None:
        return None
    return [str(p) for p in writer(folder, recipe, options)]


def write_sites(plugin, folder, n: int, recipe, options) -> list[tuple[str, str]]:
    """`(source, description)` of the `n` demo sites the adapter writes into `folder` (`write_sites`)."""
    written = list(plugin.data.write_sites(folder, n, recipe, options))
    if len(written) != n:
        raise PluginError(f"plugin {plugin.name!r}: DataAdapter.write_sites wrote {len(written)} sites, {n} were asked")
    out = []
    for item in written:
        source, about = (item if isinstance(item, (tuple, list)) else (item, ""))
        if not Path(source).exists():
            raise PluginError(f"plugin {plugin.name!r}: DataAdapter.write_sites returned {source!r}, which does not exist")
        out.append((str(source), str(about)))
    return out
