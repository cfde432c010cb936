"""The fit loop: a plugin, data and a `Recipe` in, a complete run directory out.

`finetune()` reads the data through the plugin's `DataAdapter`, builds
preprocessing -> backbone -> pooling -> head as one functional Keras model,
applies the freeze strategy and the regulariser, compiles, and calls Keras'
own `model.fit` with callbacks (early stopping with best weights restored,
best checkpoint, `BackupAndRestore`, warm-up + cosine learning rate, CSV and
TensorBoard logs). Then it evaluates, saves `model.keras` and writes the run.

Example:

```python
from zoo import registry
from zoo.training.finetune import finetune

plugin = registry.get_plugin("medical-ct")
recipe = plugin.resolve_recipe(overrides={"epochs": 3})
result = finetune(plugin, recipe)
print(result.path, result.metrics)
```
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ConfigError, RunError
from zoo.training import rundir
from zoo.training.recipe import Recipe

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """Where a run went and what it measured."""

    path: Path
    metrics: dict[str, float]
    test_metrics: dict[str, float] | None
    epochs_run: int
    stopped_by: str
    timings: dict[str, float] = field(default_factory=dict)
    model: Any = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Assembly:
    """The parts of a fine-tuning model, sharing layers."""

    model: Any            # raw inputs -> outputs (what is saved and exported)
    dual: Any             # raw inputs -> [outputs, pooled features] (for the regularisers)
    feature_model: Any    # raw inputs -> pooled features (linear probe cache, LwF teacher)
    backbone: Any
    head: Any
    blocks: list
    plan: Any


# --------------------------------------------------------------------------- data

def load_data(plugin, recipe: Recipe, source: str | None):
    """The plugin's `DataBundle` for `source`, or its demo data when `source` is None."""
    from zoo import contract

    return contract.load_bundle(plugin, recipe, plugin.options_for(recipe), source)


def labels_of(dataset) -> np.ndarray:
    """All labels of an unbatched `(inputs, label)` dataset, as one array."""
    chunks = [y.numpy() for y in dataset.map(lambda x, y: y).batch(4096)]
    return np.concatenate(chunks) if chunks else np.zeros((0,))


def check_labels(labels: np.ndarray, task, class_names: list[str], split: str) -> None:
    """`DataError` when labels do not fit the task (e.g. class 5 of 3, or 3 classes for binary)."""
    task.check_labels(labels, class_names, split)


def batched(dataset, recipe: Recipe, training: bool, augment=None, size: int | None = None):
    """Shuffle (training), batch, augment (training) and prefetch with AUTOTUNE."""
    import tensorflow as tf

    if training:
        buffer = min(size or 10_000, 10_000)
        dataset = dataset.shuffle(buffer, seed=recipe.seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(recipe.batch_size)
    if training and augment is not None:
        if getattr(augment, "with_labels", False):  # moves labels with the inputs (boxes with their image)
            dataset = dataset.map(lambda x, y: augment(x, y, training=True), num_parallel_calls=tf.data.AUTOTUNE)
        else:
            dataset = dataset.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def limit(dataset, n: int | None):
    return dataset if n is None else dataset.take(n)


# --------------------------------------------------------------------------- model

def preprocessed_inputs(plugin, spec, bundle, fitted, options):
    """`(raw keras.Inputs by name, what the backbone takes)`: the data's fitted preprocessing (or a
    pretraining run's, `fitted`), then the backbone's own."""
    import keras

    from zoo import contract
    from zoo.loading import load_keras_model

    signature = bundle.input_signature
    inputs = {name: keras.Input(tuple(s.shape), dtype=s.dtype, name=name) for name, s in signature.items()}
    x = inputs if len(inputs) > 1 else next(iter(inputs.values()))
    data_prep = load_keras_model(fitted, plugin=plugin) if fitted is not None else bundle.preprocessing
    if data_prep is not None:
        x = data_prep(x)
    prep = contract.preprocessing_layer(plugin, spec, signature, options)
    if prep is not None:
        x = prep(x)
    return inputs, x


def assemble(plugin, recipe: Recipe, bundle, prior=None) -> Assembly:
    """Build preprocessing -> backbone -> pooling -> head and apply the strategy."""
    import keras

    from zoo.strategies.freeze import apply_strategy, resolve_blocks, resolve_neck
    from zoo.strategies.heads import build_head, build_pooling

    from zoo import contract
    from zoo.training.pretrain import resolve_weights

    spec = plugin.backbone(recipe.backbone)
    options = plugin.options_for(recipe)
    weights = recipe.weights or spec.default_weights
    weights, fitted = resolve_weights(None if weights == "none" else weights, plugin, spec.name)
    signature = bundle.input_signature
    backbone = contract.build_backbone(plugin, spec, weights, signature, options)
    inputs, x = preprocessed_inputs(plugin, spec, bundle, fitted, options)
    features = backbone(x)
    sequence = plugin.task.per_position  # one output per position: nothing to pool
    pool = None if sequence else build_pooling(tuple(features.shape[1:]), recipe)
    pooled = pool(features) if pool is not None else features
    head = build_head(int(pooled.shape[-1]), plugin.task, len(bundle.class_names), recipe, prior, sequence=sequence)
    outputs = head(pooled)
    name = f"{plugin.name}_{spec.name}".replace("-", "_")
    model = keras.Model(inputs, outputs, name=name)
    dual = keras.Model(inputs, [outputs, pooled], name=f"{name}_dual")
    feature_model = keras.Model(inputs, pooled, name=f"{name}_features")
    blocks = resolve_blocks(spec, backbone)
    plan = apply_strategy(recipe, backbone, blocks, resolve_neck(spec, backbone))
    return Assembly(model, dual, feature_model, backbone, head, blocks, plan)


def compile_metrics(task) -> list:
    return task.keras_metrics()


def make_loss(task, recipe: Recipe):
    return task.keras_loss(recipe)


def learning_rate(recipe: Recipe, steps_per_epoch: int, factor: float = 1.0):
    """Linear warm-up over `warmup_epochs`, then cosine decay to 0 by the last epoch."""
    import keras

    total = max(1, recipe.epochs * steps_per_epoch)
    warm = min(recipe.warmup_epochs * steps_per_epoch, total - 1)
    peak = recipe.learning_rate * factor
    if warm > 0:
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=peak * 0.01, decay_steps=total - warm, warmup_target=peak, warmup_steps=warm)
    return keras.optimizers.schedules.CosineDecay(initial_learning_rate=peak, decay_steps=total)


def make_optimizer(recipe: Recipe, steps_per_epoch: int, factor: float = 1.0, lr=None):
    """The recipe's optimizer on `learning_rate`'s schedule, or on `lr` (a rate or a schedule)."""
    import keras

    lr = learning_rate(recipe, steps_per_epoch, factor) if lr is None else lr
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9)
    if recipe.optimizer == "adamw" or recipe.weight_decay:
        return keras.optimizers.AdamW(lr, weight_decay=recipe.weight_decay or 0.004)
    return keras.optimizers.Adam(lr)


def discriminative_optimizer(recipe: Recipe, steps_per_epoch: int, blocks):
    """One optimizer per block, learning rate `lr * lr_decay**i` for the i-th block from the top."""
    import keras

    from zoo.strategies.freeze import block_lr_multipliers

    factors = block_lr_multipliers(blocks, recipe.lr_decay)
    by_factor = {f: make_optimizer(recipe, steps_per_epoch, f) for f in sorted(set(factors.values()) | {1.0})}

    def select(variable):
        return by_factor[factors.get(variable.path, 1.0)]

    return keras.optimizers.MultiOptimizer(select)


# --------------------------------------------------------------------------- environment

def configure_precision(recipe: Recipe) -> str:
    """`mixed` -> bfloat16 compute with float32 variables; `auto` means mixed on a GPU."""
    import keras
    import tensorflow as tf

    precision = recipe.precision
    if precision == "auto":
        precision = "mixed" if tf.config.list_physical_devices("GPU") else "float32"
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "mixed" else "float32")
    return precision


def use_jit(recipe: Recipe) -> bool:
    import tensorflow as tf

    if recipe.jit is not None:
        return recipe.jit
    return bool(tf.config.list_physical_devices("GPU"))


def distribution_scope(recipe: Recipe):
    from zoo.training import distribute

    return distribute.strategy_scope(recipe.distribute)


def library_versions() -> dict[str, str]:
    from zoo.runs import library_versions as versions

    return versions()


# --------------------------------------------------------------------------- the run

def stopwatch():
    """`(timings, lap)`: `lap(name)` records the seconds since the previous lap under `name`."""
    import time

    clock = [time.perf_counter()]
    timings: dict[str, float] = {}

    def lap(name):
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 3)
        clock[0] = now

    return timings, lap


def finetune(plugin, recipe: Recipe, data: str | None = None, runs_dir: str | Path = "runs",
             resume: str | Path | None = None, verbose: int | str = "auto", callbacks: list | None = None,
             record: dict | None = None) -> RunResult:
    """Fine-tune `plugin`'s backbone on `data` (or its demo data) and write a run directory.

    `callbacks` are extra Keras callbacks given to `fit` after the engine's own.
    `record` is merged into `zoo.json` (`zoo finetune --backbone auto` records its selection).
    `RunResult.timings` says where the time went (data, build, train, finish seconds).
    """
    # A multi-worker strategy must exist before TensorFlow runs its first op.
    with distribution_scope(recipe) as strategy:
        return _finetune(plugin, recipe, data, runs_dir, resume, verbose, strategy, list(callbacks or []),
                         dict(record or {}))


def _finetune(plugin, recipe, data, runs_dir, resume, verbose, strategy, extra_callbacks, record) -> RunResult:
    import keras

    timings, lap = stopwatch()
    keras.utils.set_random_seed(recipe.seed)
    if recipe.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    precision = configure_precision(recipe)
    jit = use_jit(recipe)
    bundle = load_data(plugin, recipe, data)
    train_raw = limit(bundle.train, recipe.max_samples)
    val_raw = limit(bundle.validation, recipe.max_samples)
    y_train = labels_of(train_raw)
    y_val = labels_of(val_raw)
    plugin.task.check_labels(y_train, bundle.class_names, "training")
    plugin.task.check_labels(y_val, bundle.class_names, "validation")
    prior = plugin.task.class_prior(y_train, len(bundle.class_names))
    steps = max(1, math.ceil(len(y_train) / recipe.batch_size))
    monitor, mode = plugin.task.resolved_monitor()
    lap("data")

    parts = assemble(plugin, recipe, bundle, prior)
    if recipe.regularizer == "lwf" and parts.plan.neck:
        raise ConfigError(f"--regularizer lwf holds the backbone's output to the pretrained one, and backbone "
                          f"{recipe.backbone or plugin.default_backbone!r} ends in new layers (its neck: "
                          f"{len(parts.plan.neck)} layers) that would be held to their random start; use "
                          "--regularizer l2sp, which anchors the pretrained weights and leaves the neck free")
    metric_names = _metric_names(plugin.task, recipe)
    target = recipe.parsed_target()
    if target and target[0] not in metric_names:
        raise ConfigError(f"--target metric {target[0]!r} is not logged; choose one of: {', '.join(metric_names)}")

    spec = plugin.backbone(recipe.backbone)
    weights_source = recipe.weights or spec.default_weights
    if resume is not None:
        run = Path(resume)
        meta = rundir.read_run(run, require_complete=False)
        if meta.get("status") == "complete":
            raise RunError(f"run {run} is already complete; nothing to resume")
    else:
        run = rundir.new_run_dir(runs_dir, plugin.name)
        meta = {}
    meta.update({
        "status": "running",
        "plugin": plugin.name,
        "plugin_version": plugin.version,
        "custom_objects_module": plugin.custom_objects_module,
        "backbone": spec.name,
        "weights": weights_source,
        "weights_sha256": _weights_sha(weights_source),
        "data": None if data is None else str(data),
        "task": plugin.task.to_json(),
        "class_names": list(bundle.class_names),
        "input_signature": {k: v.to_json() for k, v in bundle.input_signature.items()},
        "recipe": recipe.to_dict(),
        "strategy": parts.plan.describe(),
        "precision": precision,
        "jit": jit,
        "data_metadata": bundle.metadata,
        "deployment": bundle.deployment,
        "samples": {"train": int(len(y_train)), "validation": int(len(y_val))},
        "started": meta.get("started") or _now(),
        "versions": library_versions(),
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0].endswith("zoo") else None,
        **record,
    })
    with rundir.locked(run):
        if resume is not None:  # re-read under the lock: another resume may have finished it
            if rundir.read_run(run, require_complete=False).get("status") == "complete":
                raise RunError(f"run {run} is already complete; nothing to resume")
            meta.setdefault("resumes", []).append({"at": _now(), "epochs": recipe.epochs})
        return _run_locked(plugin, recipe, bundle, parts, run, meta, train_raw, val_raw, steps, monitor, mode,
                           target, strategy, jit, verbose, extra_callbacks, timings, lap)


def _run_locked(plugin, recipe, bundle, parts, run, meta, train_raw, val_raw, steps, monitor, mode, target,
                strategy, jit, verbose, extra_callbacks, timings, lap) -> RunResult:
    rundir.write_json(run / rundir.RUN_FILE, meta)
    lap("build")
    try:
        result = _train(plugin, recipe, bundle, parts, run, train_raw, val_raw, steps, monitor, mode,
                        target, strategy, jit, verbose, extra_callbacks)
    except BaseException as exc:
        meta["status"] = "failed"
        meta["error"] = f"{type(exc).__name__}: {exc}"
        rundir.write_json(run / rundir.RUN_FILE, meta)
        raise
    history, stopped_by, epochs_run, cached, warnings, qat = result
    if warnings:
        meta["warnings"] = warnings
    if qat is not None:
        meta["quantize_aware"] = qat
    lap("train")
    return _finish(plugin, recipe, bundle, parts, run, meta, stopped_by, epochs_run, cached, timings, lap)


def _metric_names(task, recipe: Recipe) -> list[str]:
    names = ["loss"] + list(task.metric_names())
    if recipe.regularizer != "none" and recipe.strategy != "linear-probe":
        names.append(recipe.regularizer)
    return names + ["val_" + n for n in names if n not in ("l2sp", "lwf")] + ["val_" + n for n in task.epoch_metrics]


def _weights_sha(source: str) -> str | None:
    if source and os.path.isfile(source):
        return rundir.sha256_file(source)
    return None


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def _callbacks(run: Path, monitor: str, mode: str, recipe: Recipe, target, has_validation=True):
    import keras

    from zoo.training.callbacks import (AtomicBackupAndRestore, EarlyStopping, EpochWeights, HistoryCSV,
                                        TargetReached, TrainingGuard)

    snapshot = EpochWeights()  # one copy of the weights per epoch for the backup and the best checkpoint
    callbacks = [
        TrainingGuard(recipe.learning_rate),
        HistoryCSV(run / "history.csv"),
        AtomicBackupAndRestore(str(run / "checkpoints" / "backup"), snapshot=snapshot),
    ]
    if recipe.patience > 0:
        # min_epochs: the first epochs are neither the best nor a reason to stop (a lucky early spike of a
        # noisy validation metric would otherwise ship a model trained for one epoch)
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=recipe.patience,
                                       restore_best_weights=True, start_from_epoch=recipe.min_epochs,
                                       best_path=run / "checkpoints" / "best.weights.npz", snapshot=snapshot))
    target_cb = None
    if target is not None:
        target_cb = TargetReached(*target)
        callbacks.append(target_cb)
    try:
        callbacks.append(keras.callbacks.TensorBoard(str(run / "logs"), write_graph=False, profile_batch=0))
    except ImportError:  # TensorBoard summaries need the tensorboard package
        log.info("tensorboard is not installed; no TensorBoard logs")
    return callbacks, target_cb


def _train(plugin, recipe, bundle, parts, run, train_raw, val_raw, steps, monitor, mode, target, strategy,
           jit, verbose, extra_callbacks):
    import keras

    from zoo.strategies.freeze import make_gradual_callback
    from zoo.strategies.regularizers import FinetuneModel
    from zoo.training.callbacks import TrainingGuard
    from zoo.training.features import compute_features, fit_cached

    callbacks, target_cb = _callbacks(run, monitor, mode, recipe, target)
    callbacks += extra_callbacks
    if plugin.task.epoch_metrics:  # first, so that every callback after it sees val_<metric>
        from zoo.training.callbacks import ValidationScores

        callbacks.insert(0, ValidationScores(plugin.task, parts.model, batched(val_raw, recipe, training=False)))
    cached = None
    loss = make_loss(plugin.task, recipe)
    if recipe.strategy == "linear-probe" and recipe.cache_features and not parts.plan.neck:
        if bundle.augment is not None:
            log.info("linear probe with a feature cache: augmentation is not applied (use --no-cache to apply it)")
        x_train, y_train = compute_features(parts.feature_model, train_raw)
        x_val, y_val = compute_features(parts.feature_model, val_raw)
        cached = (x_val, y_val)
        trainer = parts.head
        trainer.compile(optimizer=make_optimizer(recipe, steps), loss=loss, metrics=compile_metrics(plugin.task),
                        jit_compile=jit)
        if strategy is None:
            # A head step takes microseconds: one traced call per epoch over in-memory features (same updates)
            history = fit_cached(trainer, x_train, y_train, (x_val, y_val), epochs=recipe.epochs,
                                 batch_size=recipe.batch_size, callbacks=callbacks, verbose=verbose, seed=recipe.seed)
        else:  # a distribution strategy splits batches across devices: Keras' own fit does that
            history = trainer.fit(x_train, y_train, batch_size=recipe.batch_size, epochs=recipe.epochs,
                                  validation_data=(x_val, y_val), callbacks=callbacks, verbose=verbose, shuffle=True)
    else:
        teacher = None
        if recipe.regularizer == "lwf":
            teacher = keras.models.clone_model(parts.feature_model)
            teacher.set_weights(parts.feature_model.get_weights())
            teacher.trainable = False
        trainer = FinetuneModel(parts.dual, parts.backbone.name, recipe.regularizer, recipe.reg_weight, teacher,
                                exclude=[layer.name for layer in parts.plan.neck])
        if recipe.strategy == "discriminative":
            optimizer = discriminative_optimizer(recipe, steps, parts.blocks)
        else:
            optimizer = make_optimizer(recipe, steps)
        if recipe.strategy == "gradual":
            callbacks.append(make_gradual_callback(parts.backbone, parts.blocks, recipe.unfreeze_every,
                                                   recipe.batchnorm == "inference", parts.plan.neck))
            # Slots for every weight that will ever train, before the first trace.
            was = [layer.trainable for layer in parts.backbone.layers]
            for layer in parts.backbone.layers:
                layer.trainable = True
            optimizer.build(trainer.trainable_variables)
            for layer, flag in zip(parts.backbone.layers, was):
                layer.trainable = flag
        trainer.compile(optimizer=optimizer, loss=loss, metrics=compile_metrics(plugin.task), jit_compile=jit)
        size = None
        train_ds = batched(train_raw, recipe, training=True, augment=bundle.augment, size=size)
        val_ds = batched(val_raw, recipe, training=False)
        history = trainer.fit(train_ds, validation_data=val_ds, epochs=recipe.epochs, callbacks=callbacks,
                              verbose=verbose, shuffle=False)
    guard = next(cb for cb in callbacks if isinstance(cb, TrainingGuard))
    warnings = list(guard.warnings)
    epochs_run = len(_read_history(run))
    best = run / "checkpoints" / "best.weights.npz"
    if not history.epoch and epochs_run and recipe.patience > 0 and best.is_file():
        # Resumed after the last epoch (killed before the run was complete): no epoch ran here, so
        # early stopping saw nothing; the best checkpoint holds what it would have restored.
        from zoo.training.callbacks import read_weights

        read_weights(trainer, best)
    qat = None
    if recipe.quantize_aware_epochs:
        test_raw = limit(bundle.test, recipe.max_samples) if bundle.test is not None else None
        qat, cached = _quantize_aware(plugin.task, recipe, parts, trainer, loss, train_raw, val_raw, test_raw,
                                      bundle.augment, steps, jit, verbose, cached)
    stopped_by = "epochs"
    if target_cb is not None and target_cb.reached_epoch is not None:
        stopped_by = f"target {recipe.target} reached at epoch {target_cb.reached_epoch + 1}"
    elif epochs_run < recipe.epochs:
        stopped_by = f"early stopping on {monitor} (patience {recipe.patience})"
    return history, stopped_by, epochs_run, cached, warnings, qat


#: the quantisation-aware epochs' learning rate, as a share of the recipe's (constant: they refine a
#: trained model, and a schedule that warmed up and decayed again would spend them ramping)
QAT_LR_FACTOR = 0.1


def _quantize_aware(task, recipe, parts, trainer, loss, train_raw, val_raw, test_raw, augment, steps, jit, verbose,
                    cached):
    """`recipe.quantize_aware_epochs` epochs of `trainer` on kernels rounded to the int8 grid
    (`zoo.training.int8_grid`); returns (the record for `zoo.json`, with the float model's validation
    and test metrics before them, and the cached validation features recomputed through the rounded
    backbone, or None)."""
    from zoo.training.features import compute_features
    from zoo.training.int8_grid import quantize_aware

    if cached is not None:
        before = score_metrics(task, cached[1], parts.head.predict(cached[0], batch_size=1024, verbose=0))
    else:
        before = evaluate_model(parts.model, task, recipe, val_raw)[0]
    test_before = None
    if test_raw is not None and labels_of(test_raw).size:
        test_before = evaluate_model(parts.model, task, recipe, test_raw)[0]
    rate = recipe.learning_rate * QAT_LR_FACTOR
    trainer.compile(optimizer=make_optimizer(recipe, steps, lr=rate), loss=loss, metrics=compile_metrics(task),
                    jit_compile=jit)
    features = {}

    def fit(epochs, callback):
        if cached is not None:  # the frozen backbone is rounded now: its features are new
            x_train, y_train = compute_features(parts.feature_model, train_raw)
            features["validation"] = compute_features(parts.feature_model, val_raw)
            trainer.fit(x_train, y_train, batch_size=recipe.batch_size, epochs=epochs, callbacks=[callback],
                        verbose=verbose, shuffle=True)
        else:
            trainer.fit(batched(train_raw, recipe, training=True, augment=augment), epochs=epochs,
                        callbacks=[callback], verbose=verbose, shuffle=False)

    record = quantize_aware(parts.model, trainer, fit, recipe.quantize_aware_epochs)
    record.update(learning_rate=rate, validation_before={k: float(v) for k, v in before.items()},
                  test_before=None if test_before is None else {k: float(v) for k, v in test_before.items()})
    return record, features.get("validation", cached)


def _read_history(run: Path) -> list[dict]:
    import csv

    path = run / "history.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def evaluate_model(model, task, recipe: Recipe, dataset) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Metrics of `model` on an unbatched dataset, plus its labels and scores."""
    from zoo.training.features import compute_features

    scores, labels = compute_features(model, dataset)
    return score_metrics(task, labels, scores), labels, scores


def score_metrics(task, labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """The task's loss and metrics from labels and model outputs (numpy)."""
    return task.score(labels, scores)


def sample_previews(plugin, recipe, dataset, rows: list[int], metadata: dict | None = None) -> dict[int, bytes | str]:
    """`Plugin.preview` of the samples at `rows` of an unbatched dataset (one pass, up to the last row).

    A preview that raises is left out with a warning: the run is not lost to a thumbnail.
    """
    wanted, out = set(rows), {}
    if not wanted:
        return out
    options = plugin.options_for(recipe)
    for i, (x, _y) in enumerate(dataset.take(max(wanted) + 1).as_numpy_iterator()):
        if i not in wanted:
            continue
        try:
            preview = plugin.preview(x, recipe, options, dict(metadata or {}))
        except Exception as exc:  # noqa: BLE001 - a plugin's preview must not fail the run
            log.warning("plugin %s: preview of validation row %d failed (%s: %s); left out of the report",
                        plugin.name, i, type(exc).__name__, exc)
            continue
        if preview is not None:
            out[i] = preview
    return out


def _finish(plugin, recipe, bundle, parts, run, meta, stopped_by, epochs_run, cached, timings, lap) -> RunResult:
    import keras

    from zoo import report_html, reports

    model = parts.model
    if cached is not None:  # the cached probe has the validation features: only the head needs to run
        features, y_val = cached
        s_val = parts.head.predict(features, batch_size=1024, verbose=0)
        val_metrics = score_metrics(plugin.task, y_val, s_val)
    else:
        val_metrics, y_val, s_val = evaluate_model(model, plugin.task, recipe,
                                                   limit(bundle.validation, recipe.max_samples))
    test_metrics = None
    y_test = s_test = None
    if bundle.test is not None:
        test_raw = limit(bundle.test, recipe.max_samples)
        if labels_of(test_raw).size:
            test_metrics, y_test, s_test = evaluate_model(model, plugin.task, recipe, test_raw)
    tmp = run / ".model.partial.keras"
    keras.config.set_dtype_policy("float32")
    model.save(tmp)
    os.replace(tmp, run / "model.keras")
    rows = _read_history(run)
    reports.write_plots(run, rows, plugin.task, bundle.class_names, y_val, s_val)
    report_html.save_scores(run, {"validation": (y_val, s_val),
                                  "test": (y_test, s_test) if y_test is not None else None})
    analysis = {}
    if plugin.analyze is not None:
        from zoo import contract

        analysis = dict(contract.run_analyze(plugin, run, recipe, plugin.options_for(recipe), (y_val, s_val),
                                             (y_test, s_test) if y_test is not None else None) or {})
        for split, extra in (analysis.pop("metrics", None) or {}).items():
            target = val_metrics if split == "validation" else test_metrics
            if target is not None:
                target.update({k: float(v) for k, v in extra.items()})
        if "decision_threshold" in analysis:
            meta["decision_threshold"] = float(analysis.pop("decision_threshold"))
        if "deployment" in analysis:
            meta["deployment"] = {**meta.get("deployment", {}), **analysis.pop("deployment")}
        if analysis:
            meta["analysis"] = analysis
    if plugin.preview is not None:
        rows = report_html.worst_rows(y_val, s_val, bundle.class_names, plugin.task, meta.get("decision_threshold"))
        report_html.save_previews(run, sample_previews(plugin, recipe, limit(bundle.validation, recipe.max_samples),
                                                       rows, bundle.metadata))
    meta.update({
        "metrics": {"validation": val_metrics, "test": test_metrics},
        "epochs_run": epochs_run,
        "stopped_by": stopped_by,
        "model_sha256": rundir.sha256_file(run / "model.keras"),
        "parameters": {"total": int(model.count_params()),
                       "trainable": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))},
        "finished": _now(),
    })
    reports.write_model_card(run, meta)
    lap("finish")
    meta["timings_s"] = timings
    meta["status"] = "complete"
    rundir.write_json(run / rundir.RUN_FILE, meta)
    report_html.refresh_report(run)  # report.html: after zoo.json, so the page shows the complete run
    import shutil

    shutil.rmtree(run / "checkpoints" / "backup", ignore_errors=True)  # only once the run is complete
    return RunResult(run, val_metrics, test_metrics, epochs_run, stopped_by, timings, model,
                     list(meta.get("warnings") or []))
