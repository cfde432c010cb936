"""`check_plugin()`: the conformance suite every plugin runs, ours and third parties'.

Call it from the plugin's own tests:

```python
from zoo.testing import check_plugin
from my_plugin import plugin

def test_conformance():
    check_plugin(plugin, options={"image_size": 32})
```

It checks: the contract fields (name format, task kind, default backbone),
that the plugin module imports without TensorFlow, that every backbone builds
with `weights=None` on the demo input signature and its `blocks()` cover it in
order, that the preprocessing layer survives Keras serialisation without
unsafe code, that `demo()` yields samples matching the input signature with
labels fitting the task, and that the task's loss and metrics exist in Keras.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from typing import Any, Mapping


def check_plugin(plugin, options: Mapping[str, Any] | None = None, backbones: list[str] | None = None,
                 check_import: bool = True) -> dict[str, Any]:
    """Run the conformance checks; raise `AssertionError` listing every failure.

    `options` are recipe values (and plugin options under `"options"`) that make
    the demo small; `backbones` restricts which backbones are built.
    Returns a small report (backbones built, their block counts, demo sizes).
    """
    from zoo.training.recipe import Recipe

    problems = list(plugin.validate())
    report: dict[str, Any] = {"backbones": {}}
    if problems:
        raise AssertionError(f"plugin {getattr(plugin, 'name', '?')!r}: " + "; ".join(problems))
    if check_import:
        problems += _check_import_without_tensorflow(plugin)
    overrides = dict(options or {})
    recipe = Recipe.resolve(plugin.recipe, overrides=overrides, option_defaults=plugin.data.options)
    bundle = plugin.data.demo(recipe)
    problems += _check_bundle(plugin, bundle, report)
    names = backbones if backbones is not None else list(plugin.backbones)
    for name in names:
        try:
            report["backbones"][name] = _check_backbone(plugin, plugin.backbones[name], bundle.input_signature)
        except AssertionError as exc:
            problems.append(f"backbone {name!r}: {exc}")
    problems += _check_task(plugin)
    if problems:
        raise AssertionError(f"plugin {plugin.name!r} fails conformance:\n- " + "\n- ".join(problems))
    return report


def _check_import_without_tensorflow(plugin) -> list[str]:
    module = type(plugin.data).__module__.split(".")[0]
    code = ("import sys, importlib; importlib.import_module(%r); "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
            "print(','.join(bad))") % module
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        return [f"module {module} fails to import: {out.stderr.strip().splitlines()[-1:]}"]
    if out.stdout.strip():
        return [f"importing {module} imports {out.stdout.strip()}; import them inside functions"]
    return []


def _check_bundle(plugin, bundle, report) -> list[str]:
    import numpy as np

    from zoo.api import DataBundle
    from zoo.errors import ZooError
    from zoo.training.finetune import check_labels, labels_of

    if not isinstance(bundle, DataBundle):
        return [f"demo() returned {type(bundle).__name__}, not a DataBundle"]
    problems = []
    for split in ("train", "validation"):
        dataset = getattr(bundle, split)
        element = next(iter(dataset.take(1)), None)
        if element is None:
            problems.append(f"demo() {split} split is empty")
            continue
        x, _ = element
        if not isinstance(x, dict) or set(x) != set(bundle.input_signature):
            problems.append(f"demo() {split} inputs must be a dict with keys {sorted(bundle.input_signature)}")
            continue
        for key, spec in bundle.input_signature.items():
            shape = tuple(x[key].shape)
            if len(shape) != len(spec.shape) or any(s is not None and s != d for s, d in zip(spec.shape, shape)):
                problems.append(f"demo() input {key!r} has shape {shape}, the signature says {spec.shape}")
            if x[key].dtype.name != spec.dtype:
                problems.append(f"demo() input {key!r} is {x[key].dtype.name}, the signature says {spec.dtype}")
        try:
            labels = labels_of(dataset)
            check_labels(labels, plugin.task, bundle.class_names, split)
        except ZooError as exc:
            problems.append(f"demo() {split} labels: {exc}")
        else:
            report[f"demo_{split}"] = int(len(labels))
    if bundle.augment is not None and not callable(bundle.augment):
        problems.append("DataBundle.augment must be callable")
    return problems


def _check_backbone(plugin, spec, signature) -> dict[str, Any]:
    import keras

    from zoo.errors import ZooError
    from zoo.strategies.freeze import resolve_blocks

    model = spec.build(None, signature)
    if not isinstance(model, keras.Model):
        raise AssertionError(f"build() returned {type(model).__name__}, not a keras.Model")
    try:
        blocks = resolve_blocks(spec, model)
    except ZooError as exc:
        raise AssertionError(str(exc)) from None
    info = {"blocks": len(blocks), "parameters": int(model.count_params())}
    if spec.preprocessing is not None:
        layer = spec.preprocessing(signature)
        if layer is not None:
            _check_serialisable(layer)
    return info


def _check_serialisable(layer) -> None:
    import keras

    config = keras.saving.serialize_keras_object(layer)
    if "Lambda" in str(config.get("class_name", "")):
        raise AssertionError("preprocessing is a Lambda layer; use a registered serialisable layer")
    try:
        keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as exc:  # the report must say what Keras said, whatever it raised
        raise AssertionError(f"preprocessing does not round-trip through Keras serialisation: {exc}") from None


def _check_task(plugin) -> list[str]:
    import keras

    problems = []
    try:
        keras.losses.get(plugin.task.resolved_loss())
    except ValueError:
        problems.append(f"task loss {plugin.task.resolved_loss()!r} is not a Keras loss")
    for name in plugin.task.resolved_metrics():
        if name in ("auc", "pr_auc"):
            continue
        try:
            keras.metrics.get(name)
        except ValueError:
            problems.append(f"task metric {name!r} is not a Keras metric")
    return problems


@contextlib.contextmanager
def registered(plugin):
    """Make an in-process `Plugin` findable by name (`zoo.registry.get_plugin`) inside the block.

    For a plugin's tests that go through run folders (`zoo.deploy.export_run`,
    `predict`) without installing the distribution first.
    """
    from zoo import registry

    entries = registry._entries(registry.PLUGIN_GROUP)
    saved = list(entries)
    entries[:] = [e for e in entries if e.name != plugin.name]
    entries.append(registry.Entry(plugin.name, registry.PLUGIN_GROUP, "<in process>", "<in process>",
                                  plugin.version or "", domain=plugin.domain, summary=plugin.summary, obj=plugin))
    try:
        yield plugin
    finally:
        entries[:] = saved
