"""CT display windows: a width and a level in Hounsfield units.

A window maps HU to intensity: `level - width/2` and below -> 0, `level + width/2`
and above -> 255, linear in between. Named windows are the usual radiology
presets; a custom one is a mapping `{"width": W, "level": L}`.

Example:

```python
resolve_windows(["lung", {"width": 400, "level": 40}])
# [{'name': 'lung', 'width': 1500.0, 'level': -600.0}, {'name': 'W400/L40', 'width': 400.0, 'level': 40.0}]
```

Pure Python: no TensorFlow, so the plugin can validate options without it.
"""

from __future__ import annotations

from typing import Any, Sequence

from zoo.errors import ConfigError

#: named windows: width, level (HU)
WINDOWS: dict[str, tuple[float, float]] = {
    "lung": (1500.0, -600.0),
    "mediastinum": (350.0, 50.0),
    "bone": (2000.0, 500.0),
    "brain": (80.0, 40.0),
}

DEFAULT_WINDOWS = ("lung", "mediastinum", "bone")


def resolve_windows(windows: Sequence[Any] | str) -> list[dict[str, Any]]:
    """Named or custom windows -> `[{"name", "width", "level"}, ...]`; `ConfigError` when invalid."""
    if isinstance(windows, (str, dict)):
        windows = [windows]
    if not isinstance(windows, (list, tuple)) or not windows:
        raise ConfigError(f"windows must be a non-empty list of window names or {{width, level}} mappings, "
                          f"got {windows!r}")
    resolved = []
    for window in windows:
        if isinstance(window, str):
            key = window.strip().lower()
            if key not in WINDOWS:
                raise ConfigError(f"unknown CT window {window!r}; use one of {', '.join(WINDOWS)} "
                                  "or a mapping {width: W, level: L}")
            width, level = WINDOWS[key]
            resolved.append({"name": key, "width": width, "level": level})
        elif isinstance(window, dict):
            unknown = set(window) - {"name", "width", "level"}
            if unknown or "width" not in window or "level" not in window:
                raise ConfigError(f"a custom CT window needs exactly 'width' and 'level' (and an optional "
                                  f"'name'), got {window!r}")
            try:
                width, level = float(window["width"]), float(window["level"])
            except (TypeError, ValueError):
                raise ConfigError(f"CT window width and level must be numbers, got {window!r}") from None
            if not width > 0:
                raise ConfigError(f"CT window width must be > 0, got {window!r}")
            name = str(window.get("name") or f"W{width:g}/L{level:g}")
            resolved.append({"name": name, "width": width, "level": level})
        else:
            raise ConfigError(f"a CT window is a name or a {{width, level}} mapping, got {window!r}")
    return resolved


def window_numpy(hu, width: float, level: float):
    """Reference implementation on numpy arrays: HU -> 0..255 (float32)."""
    import numpy as np

    low = level - width / 2.0
    return (np.clip((np.asarray(hu, "float32") - low) / width, 0.0, 1.0) * 255.0).astype("float32")
