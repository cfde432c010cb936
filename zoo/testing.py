"""`check_plugin()`: the conformance kit every plugin runs, ours and third parties'.

Call it from the plugin's own tests:

```python
from zoo.testing import check_plugin
from my_plugin import plugin

def test_conformance(tmp_path):
    report = check_plugin(plugin, recipe={"options": {"image_size": 32}}, workdir=tmp_path)
    assert report["predict"]["rows"] > 0
```

It proves the whole path a user takes, and lists every failure at once, each with the
hook that failed and the fix:

1. the contract fields (`Plugin.validate`: names, task, options, signatures);
2. the plugin module imports without TensorFlow or Keras;
3. the recipe overrides and plugin options resolve;
4. `demo()` returns a `DataBundle` whose samples match the input signature and whose
   labels fit the task;
5. `DataBundle.augment` runs on a real training batch and keeps keys, shapes and dtypes;
6. every backbone builds (random weights) with the options, its `blocks()` cover it in
   order, and its preprocessing survives Keras serialisation in safe mode;
7. a short fine-tuning run (one epoch on a few samples, random weights) completes;
8. that run exports to a float format and the artifact passes verification;
9. `write_examples()` files go through `read_inputs()` and `zoo predict`, from the run and
   from the artifact, and both give the same decoded predictions.

Steps 7-9 need a working folder (`workdir`, default a temporary one) and take tens of
seconds for an ImageNet-sized backbone; `train=False` stops after step 6.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["check_plugin", "registered"]


class _Problems(list):
    def attempt(self, hook: str, fix: str, fn: Callable[[], Any]) -> Any:
        """Run `fn`; on an exception record `hook: what happened; fix` and return None."""
        try:
            return fn()
        except AssertionError as exc:
            self.append(f"{hook}: {exc}" + (f"; {fix}" if fix else ""))
        except Exception as exc:  # the report must say what the plugin raised, whatever it was
            where = traceback.extract_tb(exc.__traceback__)[-1]
            self.append(f"{hook} raised {type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
                        + (f"; {fix}" if fix else ""))
        return None


def check_plugin(plugin, recipe: Mapping[str, Any] | None = None, backbones: list[str] | None = None,
                 check_import: bool = True, train: bool = True, export_format: str = "savedmodel",
                 workdir: str | Path | None = None, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run the conformance checks; raise `AssertionError` listing every failure.

    `recipe`: recipe overrides that make the demo small (plugin options under `"options"`).
    `backbones`: which backbones to build (default: all). `train`: run the fine-tune, export
    and predict steps. `export_format`: the float format exported (savedmodel, tflite, onnx).
    `workdir`: where the run and the example files go. `options`: the old name of `recipe`.
    Returns a report (backbones and their block counts, demo sizes, run, export, predictions).
    """
    from zoo import contract

    overrides = dict(recipe if recipe is not None else options or {})
    problems = _Problems(plugin.validate())
    name = getattr(plugin, "name", "?")
    report: dict[str, Any] = {"backbones": {}}
    if problems:
        raise AssertionError(f"plugin {name!r} breaks the contract:\n- " + "\n- ".join(problems))
    version = contract.version_of(plugin)
    report["contract"] = version
    if check_import:
        problems += _check_import_without_tensorflow(plugin)
    resolved = problems.attempt("recipe", "fix the recipe overrides or Plugin.recipe / Plugin.options defaults",
                                lambda: plugin.resolve_recipe(overrides=overrides))
    if resolved is None:
        _raise(name, problems)
    opts = plugin.options_for(resolved)
    bundle = problems.attempt("DataAdapter.demo", "demo(recipe, options) must return a zoo.api.DataBundle",
                              lambda: contract.load_bundle(plugin, resolved, opts, None))
    if bundle is not None:
        problems += _check_bundle(plugin, bundle, report)
        problems.attempt("DataBundle.augment", "augment(inputs_dict, training=True) must return a dict with the "
                         "same keys, shapes and dtypes (see docs/plugins.md, 'Augmentation')",
                         lambda: _check_augment(bundle, resolved))
        if plugin.preview is not None:
            problems.attempt("Plugin.preview", "preview(inputs, recipe, options, metadata) must return PNG/JPEG "
                             "bytes, a str or None (see docs/plugins.md, 'The run report')",
                             lambda: _check_preview(plugin, bundle, resolved, opts, report))
    signature = bundle.input_signature if bundle is not None else None
    if signature is not None:
        for key in (backbones if backbones is not None else list(plugin.backbones)):
            info = problems.attempt(f"backbone {key!r}", "build(weights, input_signature, options) must return a "
                                    "keras.Model and blocks(model) list its layers with weights, input to output",
                                    lambda key=key: _check_backbone(plugin, plugin.backbones[key], signature, opts))
            if info is not None:
                report["backbones"][key] = info
    if train and bundle is not None and not problems:
        _check_run(plugin, resolved, overrides, export_format, workdir, problems, report)
    _raise(name, problems)
    return report


def _raise(name: str, problems: list[str]) -> None:
    if problems:
        raise AssertionError(f"plugin {name!r} fails conformance:\n- " + "\n- ".join(problems))


def _check_import_without_tensorflow(plugin) -> list[str]:
    module = type(plugin.data).__module__.split(".")[0]
    code = ("import sys, importlib; importlib.import_module(%r); "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
            "print(','.join(bad))") % module
    import os

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # what this process can import
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return [f"module {module} fails to import: {out.stderr.strip().splitlines()[-1:]}"]
    if out.stdout.strip():
        return [f"importing {module} imports {out.stdout.strip()}; import them inside functions"]
    return []


def _check_bundle(plugin, bundle, report) -> list[str]:
    from zoo.errors import ZooError
    from zoo.training.finetune import labels_of

    problems = []
    for split in ("train", "validation"):
        dataset = getattr(bundle, split)
        element = next(iter(dataset.take(1)), None)
        if element is None:
            problems.append(f"DataAdapter.demo: the {split} split is empty")
            continue
        x, _ = element
        if not isinstance(x, dict) or set(x) != set(bundle.input_signature):
            problems.append(f"DataAdapter.demo: {split} inputs must be a dict with keys "
                            f"{sorted(bundle.input_signature)}")
            continue
        for key, spec in bundle.input_signature.items():
            shape = tuple(x[key].shape)
            if len(shape) != len(spec.shape) or any(s is not None and s != d for s, d in zip(spec.shape, shape)):
                problems.append(f"DataAdapter.demo: input {key!r} has shape {shape}, the signature says {spec.shape}")
            if x[key].dtype.name != spec.dtype:
                problems.append(f"DataAdapter.demo: input {key!r} is {x[key].dtype.name}, the signature says "
                                f"{spec.dtype}")
        try:
            labels = labels_of(dataset)
            plugin.task.check_labels(labels, bundle.class_names, split)
        except ZooError as exc:
            problems.append(f"DataAdapter.demo: {split} labels: {exc}; see the label formats of task kind "
                            f"{plugin.task.kind!r} in zoo.tasks")
        else:
            report[f"demo_{split}"] = int(len(labels))
    if bundle.augment is not None and not callable(bundle.augment):
        problems.append("DataBundle.augment must be callable (a Keras layer taking the inputs dict)")
    return problems


def _check_preview(plugin, bundle, recipe, options, report) -> None:
    x, _ = next(bundle.validation.take(1).as_numpy_iterator())
    out = plugin.preview(x, recipe, options, dict(bundle.metadata or {}))
    if isinstance(out, (bytes, bytearray)):
        if not (out[:8] == b"\x89PNG\r\n\x1a\n" or out[:3] == b"\xff\xd8\xff"):
            raise ValueError("the bytes returned are neither PNG nor JPEG")
    elif out is not None and not isinstance(out, str):
        raise TypeError(f"returned {type(out).__name__}")
    report["preview"] = None if out is None else ("image" if isinstance(out, (bytes, bytearray)) else "text")


def _check_augment(bundle, recipe) -> None:
    if bundle.augment is None:
        return
    batch, labels = next(iter(bundle.train.batch(min(8, recipe.batch_size)).take(1)))
    if getattr(bundle.augment, "with_labels", False):
        out, moved = bundle.augment(batch, labels, training=True)
        if tuple(moved.shape) != tuple(labels.shape) or moved.dtype != labels.dtype:
            raise AssertionError(f"labels came back {tuple(moved.shape)} {moved.dtype.name}, went in "
                                 f"{tuple(labels.shape)} {labels.dtype.name}")
    else:
        out = bundle.augment(batch, training=True)
    if not isinstance(out, Mapping) or set(out) != set(batch):
        raise AssertionError(f"returned {type(out).__name__} with keys {sorted(out) if isinstance(out, Mapping) else '-'}"
                             f", expected a dict with keys {sorted(batch)}")
    for key, value in batch.items():
        got = out[key]
        if tuple(got.shape) != tuple(value.shape) or got.dtype != value.dtype:
            raise AssertionError(f"input {key!r} came back {tuple(got.shape)} {got.dtype.name}, went in "
                                 f"{tuple(value.shape)} {value.dtype.name}")


def _check_backbone(plugin, spec, signature, options) -> dict[str, Any]:
    import keras

    from zoo import contract
    from zoo.errors import ZooError
    from zoo.strategies.freeze import resolve_blocks

    model = contract.build_backbone(plugin, spec, None, signature, options)
    if not isinstance(model, keras.Model):
        raise AssertionError(f"build() returned {type(model).__name__}, not a keras.Model")
    try:
        blocks = resolve_blocks(spec, model)
    except ZooError as exc:
        raise AssertionError(str(exc).replace(f"backbone {spec.name!r}: ", "", 1)) from None
    info = {"blocks": len(blocks), "parameters": int(model.count_params())}
    layer = contract.preprocessing_layer(plugin, spec, signature, options)
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
        raise AssertionError(f"preprocessing does not round-trip through Keras serialisation in safe mode: {exc}; "
                             "register the layer with keras.saving.register_keras_serializable(package=...) and "
                             "name its module in Plugin.custom_objects_module") from None


def _check_run(plugin, recipe, overrides, export_format, workdir, problems: _Problems, report) -> None:
    from zoo import contract
    from zoo.deploy import export_run, predict
    from zoo.training.finetune import finetune

    short = dict(overrides)
    short.update(epochs=1, patience=0, warmup_epochs=0, weights="none", target=None,
                 max_samples=min(int(overrides.get("max_samples") or 64), 64))
    small = plugin.resolve_recipe(overrides=short)
    with contextlib.ExitStack() as stack:
        root = Path(workdir) if workdir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        stack.enter_context(registered(plugin))
        result = problems.attempt("fine-tuning (1 epoch)", "see the message; the demo must train with the "
                                  "plugin's recipe", lambda: finetune(plugin, small, runs_dir=root / "runs", verbose=0))
        if result is None:
            return
        report["run"] = str(result.path)
        exported = problems.attempt(f"export ({export_format})", "the model must convert and match Keras in the "
                                    "format's runtime (custom layers need a get_config and traceable call)",
                                    lambda: export_run(result.path, export_format))
        if exported is not None:
            report["export"] = {"format": export_format, "path": str(exported.path),
                                "max_abs_diff": exported.verification.max_abs_diff}
        has_reader = contract._overrides(plugin.data, "read_inputs")
        examples = problems.attempt("DataAdapter.write_examples", "write_examples(folder, recipe, options) must "
                                    "write raw input files and return their paths",
                                    lambda: contract.write_examples(plugin, root / "examples", small,
                                                                    plugin.options_for(small)))
        if examples is None:
            if has_reader and contract.version_of(plugin) >= 2 and not any("write_examples" in p for p in problems):
                problems.append("DataAdapter.write_examples is missing: without it read_inputs -> predict cannot be "
                                "checked; implement write_examples(folder, recipe, options)")
            return
        if not examples:
            problems.append("DataAdapter.write_examples returned no paths")
            return
        from_run = problems.attempt("zoo predict (run)", "read_inputs(paths, input_signature, options, deployment) "
                                    "must return zoo.api.Rows read as in training",
                                    lambda: predict(result.path, examples))
        report["predict"] = {"rows": len(from_run or []), "examples": examples}
        if exported is None or from_run is None:
            return
        from_artifact = problems.attempt("zoo predict (artifact)", "the artifact must read the same rows",
                                         lambda: predict(exported.path, examples))
        if from_artifact is not None:
            _compare_predictions(from_run, from_artifact, problems)


def _compare_predictions(a: list[dict], b: list[dict], problems: list[str]) -> None:
    if [r["input"] for r in a] != [r["input"] for r in b]:
        problems.append("zoo predict: the run and the artifact reported different rows")
        return
    keys = [k for k in a[0] if k not in ("input", "score", "scores", "value")] if a else []

    def value(r):  # what is compared with the threshold: a probability, or an answer's margin over no answer
        v = r.get("score", r.get("margin"))
        return float(v) if isinstance(v, (int, float)) else 0.0

    def on_the_edge(r, s):  # a score within float noise of the threshold may fall either side
        noise = 1e-4 if "score" in r else 1e-3  # a probability; a margin of logits
        return "threshold" in r and abs(value(r) - float(r["threshold"])) <= noise and abs(value(r) - value(s)) <= noise

    def same(x, y):  # other numbers (an answer's margin) within float noise
        if isinstance(x, float) and isinstance(y, float):
            return abs(x - y) <= 1e-3 * max(1.0, abs(x))
        return x == y

    differ = [r["input"] for r, s in zip(a, b)
              if any(not same(r.get(k), s.get(k)) for k in keys) and not on_the_edge(r, s)]
    if differ and len(differ) > max(1, len(a) // 20):
        problems.append(f"zoo predict: the artifact decides differently from the run on {len(differ)} of {len(a)} "
                        f"rows (first: {differ[0]})")


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
