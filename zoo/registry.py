"""Entry-point discovery of plugins (`keras_zoo.plugins`) and exporters (`keras_zoo.exporters`).

Discovery imports plugin modules but never TensorFlow. A plugin that raises on
import or breaks the contract is recorded as broken with its reason and
distribution, and the others keep working. Two entry points registering one name
are both recorded as a conflict; neither is picked.

Example:

```python
from zoo import registry
for entry in registry.list_plugins():
    print(entry.name, entry.status, entry.distribution)
plugin = registry.get_plugin("medical-ct")
```
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable

from zoo.errors import PluginError

log = logging.getLogger(__name__)

PLUGIN_GROUP = "keras_zoo.plugins"
EXPORTER_GROUP = "keras_zoo.exporters"


@dataclass
class Entry:
    """One registered thing: its name, origin and status (ok, broken, conflict)."""

    name: str
    group: str
    value: str
    distribution: str
    version: str
    status: str = "ok"
    reason: str = ""
    domain: str = ""
    summary: str = ""
    obj: Any = dataclasses.field(default=None, repr=False)

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data.pop("obj")
        return data


_cache: dict[str, list[Entry]] = {}


def _distribution(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown", ""
    return dist.metadata["Name"] or dist.name, dist.version


def _validate_plugin(obj: Any, name: str) -> tuple[Any, str]:
    from zoo.api import Plugin

    if not isinstance(obj, Plugin) and callable(obj):
        obj = obj()
    if not isinstance(obj, Plugin):
        return obj, f"entry point gives {type(obj).__name__}, not a zoo.api.Plugin"
    problems = obj.validate()
    if obj.name != name:
        problems.append(f"entry point name {name!r} differs from Plugin.name {obj.name!r}")
    return obj, "; ".join(problems)


def _validate_exporter(obj: Any, name: str) -> tuple[Any, str]:
    from zoo_export.api import Exporter

    if not isinstance(obj, Exporter) and callable(obj):
        obj = obj()
    if not isinstance(obj, Exporter):
        return obj, f"entry point gives {type(obj).__name__}, not a zoo_export.api.Exporter"
    if obj.name != name:
        return obj, f"entry point name {name!r} differs from Exporter.name {obj.name!r}"
    return obj, ""


def _discover(group: str, validate: Callable[[Any, str], tuple[Any, str]]) -> list[Entry]:
    entries: list[Entry] = []
    for ep in sorted(metadata.entry_points(group=group), key=lambda e: (e.name, e.value)):
        dist, version = _distribution(ep)
        entry = Entry(name=ep.name, group=group, value=ep.value, distribution=dist, version=version)
        try:
            obj = ep.load()
            obj, problem = validate(obj, ep.name)
        except Exception as exc:  # a third-party module failing must not take the CLI down
            entry.status, entry.reason = "broken", f"{type(exc).__name__}: {exc}"
            log.debug("entry point %s failed to load", ep.value, exc_info=True)
        else:
            if problem:
                entry.status, entry.reason = "broken", problem
            entry.obj = obj
            entry.domain = getattr(obj, "domain", "") or ""
            entry.summary = getattr(obj, "summary", "") or getattr(obj, "description", "") or ""
        entries.append(entry)
    by_name: dict[str, list[Entry]] = {}
    for entry in entries:
        by_name.setdefault(entry.name, []).append(entry)
    for name, same in by_name.items():
        if len(same) > 1:
            origins = ", ".join(f"{e.distribution} ({e.value})" for e in same)
            for e in same:
                e.status = "conflict"
                e.reason = (f"name {name!r} is registered by {len(same)} entry points: {origins}; uninstall one "
                            f"of them (pip uninstall {same[-1].distribution})")
    return entries


def _entries(group: str) -> list[Entry]:
    if group not in _cache:
        validate = _validate_plugin if group == PLUGIN_GROUP else _validate_exporter
        _cache[group] = _discover(group, validate)
    return _cache[group]


def refresh() -> None:
    """Forget what was discovered (after installing a plugin in this process)."""
    _cache.clear()


def list_plugins() -> list[Entry]:
    """Every plugin entry point, ok or not, sorted by name."""
    return list(_entries(PLUGIN_GROUP))


def list_exporters() -> list[Entry]:
    """Every exporter entry point, ok or not, sorted by name."""
    return list(_entries(EXPORTER_GROUP))


def _get(group: str, name: str, kind: str, flag: str):
    entries = _entries(group)
    same = [e for e in entries if e.name == name]
    if not same:
        usable = sorted({e.name for e in entries if e.status == "ok"})
        raise PluginError(
            f"no {kind} named {name!r} is installed; installed {kind}s: {', '.join(usable) or 'none'}"
            + (f" (see `{flag}`)" if flag else "")
        )
    entry = same[0]
    if entry.status == "conflict":
        raise PluginError(f"{kind} {name!r} is in conflict: {entry.reason}")
    if entry.status != "ok":
        raise PluginError(f"{kind} {name!r} from {entry.distribution} is {entry.status}: {entry.reason}")
    return entry.obj


def get_plugin(name: str):
    """The `zoo.api.Plugin` registered as `name`; `PluginError` names the installed ones."""
    plugin = _get(PLUGIN_GROUP, name, "plugin", "zoo plugins list")
    entry = next(e for e in _entries(PLUGIN_GROUP) if e.name == name)
    if plugin.version is None:
        plugin.version = entry.version
    return plugin


def get_exporter(name: str):
    """The `zoo_export.api.Exporter` registered as `name` (a format)."""
    return _get(EXPORTER_GROUP, name, "export format", "")

