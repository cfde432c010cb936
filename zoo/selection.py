"""`zoo select`: rank a plugin's backbones, weights and depths by transferability, before training.

One forward pass per backbone and weights source over a sample of the training split
gives pooled features after each of the last K blocks (a *depth*: `cut` 0 is the
backbone's output, `cut` j the output of the block j below it). Each candidate
(backbone, weights, cut) is scored with LogME (`zoo.transfer.logme`, the ranking),
H-score for classifiers and LEEP where the backbone gives its pretraining head
(`BackboneSpec.source_head`, at cut 0 only). The best candidate becomes a recipe:

- its backbone and weights;
- `strategy: full` when random initialisation scores best (nothing pretrained helps);
- otherwise `strategy: partial` with `trainable_blocks: cut + 1`: the blocks above the best
  depth are specific to the source task and are retrained, with the block that scored best.

Features are cached per (plugin, backbone, weights, data, options, sample) under
`zoo.data.cache_dir("select")`, so a second selection on the same data runs no backbone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ConfigError, WeightsError

log = logging.getLogger(__name__)

#: training samples scored by default (the LogME paper scores whole target sets; a sample of
#: this size ranked the demo candidates as the full split did)
DEFAULT_SAMPLES = 500
DEFAULT_DEPTHS = 3
CACHE_VERSION = 4


@dataclass
class Candidate:
    """One row of the selection table."""

    backbone: str
    weights: str
    cut: int = 0                    # blocks removed from the top (0: the backbone's output)
    block: str = ""                 # the block whose output is scored
    features: int = 0               # pooled feature size
    logme: float | None = None
    h_score: float | None = None
    leep: float | None = None
    feature_seconds: float | None = None
    cached: bool = False
    skipped: str | None = None      # why the candidate was not scored

    @property
    def name(self) -> str:
        """`backbone/weights` (a pretraining run by its folder name), `@-j` for a cut of j blocks."""
        weights = Path(self.weights).name if Path(self.weights).is_dir() else self.weights
        return f"{self.backbone}/{weights}" + (f"@-{self.cut}" if self.cut else "")


@dataclass
class Selection:
    plugin: str
    samples: int
    classes: int | None
    candidates: list[Candidate]
    recipe: dict[str, Any]
    seconds: float
    data: str | None = None
    score: str = "logme"
    notes: list[str] = field(default_factory=list)

    @property
    def ranked(self) -> list[Candidate]:
        scored = [c for c in self.candidates if c.skipped is None]
        return sorted(scored, key=lambda c: -c.logme) + [c for c in self.candidates if c.skipped is not None]

    @property
    def best(self) -> Candidate:
        return self.ranked[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin, "data": self.data, "samples": self.samples, "classes": self.classes,
            "score": self.score, "seconds": round(self.seconds, 3), "recipe": self.recipe, "notes": self.notes,
            "best": self.best.name,
            "candidates": [{"name": c.name, **asdict(c)} for c in self.ranked],
        }


# --------------------------------------------------------------------------- candidates

def weight_sources(plugin, spec, runs_dir: str | Path | None, extra: tuple[str, ...] = ()) -> list[str]:
    """Named weights of `spec` (not the PATH placeholder), then `extra`, then this plugin's newest
    complete pretraining run for the backbone under `runs_dir`.

    Random initialisation (`none`) is a candidate where it is the backbone's default, and for
    the plugin's default backbone as the baseline every pretrained source should beat.
    """
    baseline = spec.name == plugin.default_backbone or spec.default_weights == "none"
    sources = [w for w in spec.weights if w != "PATH" and (w != "none" or baseline)]
    sources += [w for w in extra if w not in sources]
    run = _newest_pretraining(plugin.name, spec.name, runs_dir)
    if run is not None and str(run) not in sources:
        sources.append(str(run))
    return sources


def _newest_pretraining(plugin: str, backbone: str, runs_dir) -> Path | None:
    if runs_dir is None or not Path(runs_dir).is_dir():
        return None
    best = None
    for child in Path(runs_dir).iterdir():
        try:
            meta = json.loads((child / "zoo.json").read_text())
        except (OSError, ValueError):
            continue
        if (isinstance(meta, dict) and meta.get("kind") == "pretrain" and meta.get("status") == "complete"
                and meta.get("plugin") == plugin and meta.get("backbone") == backbone):
            key = (meta.get("finished", ""), child.name)
            if best is None or key > best[0]:
                best = (key, child)
    return None if best is None else best[1]


# --------------------------------------------------------------------------- features

def _sample(bundle, samples: int, seed: int):
    """A fixed random sample of the training split, kept in memory for every backbone.

    With a known size, `samples` random positions are kept as the split streams past (memory:
    the sample only); otherwise a shuffle buffer of a few times the sample is drawn from.
    """
    import tensorflow as tf

    train = bundle.train
    size = int(train.cardinality())
    if size >= 0:
        if size <= samples:
            return train.cache()
        keep = np.zeros(size, dtype=bool)
        keep[np.random.default_rng(seed).choice(size, samples, replace=False)] = True
        table = tf.constant(keep)
        picked = train.enumerate().filter(lambda i, item: table[i]).map(lambda i, item: item)
        return picked.cache()
    buffer = min(10_000, max(4 * samples, 1_000))
    return train.shuffle(buffer, seed=seed, reshuffle_each_iteration=False).take(samples).cache()


def _tap_model(plugin, recipe, spec, weights, bundle, depths: int):
    """raw inputs -> [pooled features after block n-1-j for j in 0..depths-1], and the block names."""
    import keras

    from zoo import contract
    from zoo.strategies.freeze import resolve_blocks
    from zoo.strategies.heads import build_pooling
    from zoo.training.finetune import preprocessed_inputs
    from zoo.training.pretrain import resolve_weights

    options = plugin.options_for(recipe)
    weights, fitted = resolve_weights(None if weights == "none" else weights, plugin, spec.name)
    signature = bundle.input_signature
    backbone = contract.build_backbone(plugin, spec, weights, signature, options)
    blocks = resolve_blocks(spec, backbone)
    order = {layer.name: i for i, layer in enumerate(backbone.layers)}
    taps, names = [backbone.output], [f"output ({backbone.layers[-1].name})"]
    for j in range(1, min(depths, len(blocks))):
        # block n-1-j ends with the layer just before the first layer of the block above it
        end = backbone.layers[min(order[layer.name] for layer in blocks[len(blocks) - j]) - 1]
        try:
            taps.append(end.output)
        except (ValueError, AttributeError):
            break  # a shared layer or a nested model: no single output to tap
        names.append(f"block {len(blocks) - j} of {len(blocks)} ({end.name})")
    if len(taps) > 1:
        backbone = keras.Model(backbone.inputs, taps, name=f"{spec.name}_taps")
    inputs, x = preprocessed_inputs(plugin, spec, bundle, fitted, options)
    outs = backbone(x)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    # keras-hub encoders take a `padding_mask` input: sequences pooled over their real positions only
    mask = inputs.get("padding_mask") if len(inputs) > 1 else None
    pooled = []
    for i, out in enumerate(outs):
        pool = build_pooling(tuple(out.shape[1:]), recipe)
        if pool is None:
            pooled.append(out)
            continue
        pool.name = f"pool_{i}"
        sequence = len(out.shape) == 3 and mask is not None and mask.shape[1] == out.shape[1]
        pooled.append(pool(out, mask=keras.ops.cast(mask, "bool")) if sequence else pool(out))
    return keras.Model(inputs, pooled, name=f"{spec.name}_select"), names


def _features(plugin, recipe, spec, weights, bundle, sample, depths):
    """([features per tap], labels, block names) with the linear probe's feature code."""
    from zoo.training.features import compute_features

    # one traced function per candidate model is the point here, not a retracing accident
    logging.getLogger("tensorflow").setLevel(logging.ERROR)

    model, names = _tap_model(plugin, recipe, spec, weights, bundle, depths)
    label = f"features of {spec.name}/{Path(weights).name if Path(weights).is_dir() else weights}"
    if len(names) == 1:
        feats, labels = compute_features(model, sample, label=label)
        return [feats], labels, names
    # compute_features runs one output; the taps share one pass through a concatenating model
    import keras

    sizes = [int(o.shape[-1]) for o in model.outputs]
    joined = keras.Model(model.input, keras.layers.Concatenate(name="taps")(list(model.outputs)))
    feats, labels = compute_features(joined, sample, label=label)
    split = np.split(feats, np.cumsum(sizes)[:-1], axis=1)
    return split, labels, names


def _cache_key(plugin, spec, weights, data, recipe, samples, depths) -> str:
    source = {"data": None, "mtime": None}
    if data is not None:
        path = Path(data)
        source = {"data": str(path.resolve()), "mtime": path.stat().st_mtime if path.exists() else None}
    w = Path(weights)
    wkey = {"weights": weights, "mtime": w.stat().st_mtime if w.exists() else None}
    blob = json.dumps({"v": CACHE_VERSION, "plugin": plugin.name, "version": plugin.version, "backbone": spec.name,
                       **wkey, **source, "options": recipe.options, "seed": recipe.seed, "samples": samples,
                       "depths": depths, "pooling": recipe.pooling, "val": recipe.val_fraction,
                       "test": recipe.test_fraction}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _cached_features(plugin, recipe, spec, weights, bundle, sample, data, samples, depths):
    from zoo.data import cache_dir
    from zoo.training.rundir import atomic_write_text

    path = cache_dir("select") / f"{_cache_key(plugin, spec, weights, data, recipe, samples, depths)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                n = int(z["n"])
                return [z[f"f{i}"] for i in range(n)], z["labels"], [str(s) for s in z["names"]], True
        except (OSError, ValueError, KeyError):
            log.warning("ignoring an unreadable feature cache %s", path)
    feats, labels, names = _features(plugin, recipe, spec, weights, bundle, sample, depths)
    import io

    buffer = io.BytesIO()
    np.savez(buffer, n=len(feats), labels=labels, names=np.array(names), **{f"f{i}": f for i, f in enumerate(feats)})
    atomic_write_text(path, buffer.getvalue())
    return feats, labels, names, False


# --------------------------------------------------------------------------- scoring

def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def score_features(task, feats: np.ndarray, labels: np.ndarray, n_classes: int, head=None) -> dict[str, float | None]:
    """LogME (always), H-score (classifiers) and LEEP (classifiers with a source head) of one candidate."""
    from zoo import transfer

    targets, ids = task.transfer_targets(labels, n_classes)
    feats = np.asarray(feats, dtype=np.float64)
    out: dict[str, float | None] = {"h_score": None, "leep": None}
    if ids is not None:
        out["logme"] = transfer.logme(feats, ids)
        out["h_score"] = transfer.h_score(feats, ids, shrinkage="auto")
        if head is not None:
            kernel, bias = (np.asarray(a, dtype=np.float64) for a in head)
            if kernel.shape[0] == feats.shape[1]:
                out["leep"] = transfer.leep(_softmax(feats @ kernel + bias), ids)
    else:
        out["logme"] = transfer.logme(feats, targets, regression=True)
    return out


def recommend(best: Candidate, candidates: list[Candidate]) -> dict[str, Any]:
    """The recipe keys `zoo finetune --config` takes for the best candidate."""
    recipe: dict[str, Any] = {"backbone": best.backbone, "weights": best.weights}
    if best.weights == "none":
        recipe["strategy"] = "full"
    else:
        recipe["strategy"] = "partial"
        recipe["trainable_blocks"] = best.cut + 1
    return recipe


# --------------------------------------------------------------------------- the command

def select(plugin, recipe, data: str | None = None, *, samples: int = DEFAULT_SAMPLES, depths: int = DEFAULT_DEPTHS,
           budget: float | None = None, backbones: tuple[str, ...] = (), extra_weights: tuple[str, ...] = (),
           runs_dir: str | Path | None = "runs", progress=None) -> Selection:
    """Score every offline candidate of `plugin` on a sample of `data`'s training split (demo: None)."""
    from zoo import transfer
    from zoo.training.finetune import labels_of, load_data

    if samples < 4:
        raise ConfigError(f"--samples must be at least 4, got {samples}")
    if depths < 1:
        raise ConfigError(f"--depths must be at least 1, got {depths}")
    start = time.perf_counter()
    import keras

    keras.utils.set_random_seed(recipe.seed)
    bundle = load_data(plugin, recipe, data)
    sample = _sample(bundle, samples, recipe.seed)
    names = list(backbones) or list(plugin.backbones)
    unknown = [n for n in names if n not in plugin.backbones]
    if unknown:
        raise ConfigError(f"--backbone {unknown[0]} is not a backbone of {plugin.name}; choose from "
                          f"{', '.join(plugin.backbones)}")
    n_classes = len(bundle.class_names)
    labels = labels_of(sample)
    _targets, ids = plugin.task.transfer_targets(labels, n_classes)
    if ids is not None:
        transfer.check_scorable(ids, class_names=bundle.class_names)
    elif len(labels) < 4:
        raise ConfigError(f"transferability scores need at least 4 samples; the training split has {len(labels)}")
    candidates: list[Candidate] = []
    pairs = [(name, weights) for name in names
             for weights in weight_sources(plugin, plugin.backbones[name], runs_dir, extra_weights)]
    for name, weights in pairs:
        spec = plugin.backbones[name]
        if budget is not None and candidates and time.perf_counter() - start > budget:
            candidates.append(Candidate(name, weights, skipped=f"over the budget of {budget:g} s"))
            continue
        t0 = time.perf_counter()
        try:
            feats, _labels, blocks, cached = _cached_features(plugin, recipe, spec, weights, bundle, sample,
                                                              data, samples, depths)
        except WeightsError as exc:
            reason = str(exc).split(";")[0]  # the cause, not the general advice
            candidates.append(Candidate(name, weights, skipped=f"weights not available offline: {reason}"))
            continue
        seconds = time.perf_counter() - t0
        head = spec.source_head(weights) if spec.source_head is not None else None
        for cut, (f, block) in enumerate(zip(feats, blocks)):
            scores = score_features(plugin.task, f, labels, n_classes, head if cut == 0 else None)
            candidates.append(Candidate(name, weights, cut, block, int(f.shape[1]),
                                        feature_seconds=round(seconds, 3), cached=cached, **scores))
        if progress is not None:
            progress(name, weights, seconds, cached)
    scored = [c for c in candidates if c.skipped is None]
    if not scored:
        reasons = "; ".join(f"{c.name}: {c.skipped}" for c in candidates)
        raise ConfigError(f"no candidate of {plugin.name} could be scored ({reasons})")
    for c in scored:
        if not math.isfinite(c.logme):
            c.skipped, c.logme = "LogME is not finite on these features", None
    selection = Selection(plugin.name, int(len(labels)), n_classes if plugin.task.uses_class_names else None,
                          candidates, {}, time.perf_counter() - start, data=None if data is None else str(data))
    selection.recipe = recommend(selection.best, candidates)
    return selection


def write_selection(selection: Selection, out: str | Path) -> tuple[Path, Path]:
    """`selection.json` and `recipe.yaml` (for `zoo finetune --config`) in folder `out`."""
    import yaml

    from zoo.runs import atomic_write_text, write_json

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"--out {out} is a file, not a folder; pass a folder for selection.json") from None
    report = out / "selection.json"
    recipe = out / "recipe.yaml"
    write_json(report, selection.to_json())
    best = selection.best
    header = (f"# zoo select --plugin {selection.plugin}: best of {len(selection.candidates)} candidates by LogME\n"
              f"# {best.name}: LogME {best.logme:.4f} on {selection.samples} training samples\n"
              f"# zoo finetune --plugin {selection.plugin} --config {recipe}\n")
    atomic_write_text(recipe, header + yaml.safe_dump(selection.recipe, sort_keys=False))
    return report, recipe


def table(selection: Selection) -> list[str]:
    """The ranked table `zoo select` prints."""
    def fmt(v):
        return "" if v is None else f"{v:.4f}"

    rows = [("rank", "candidate", "block", "LogME", "H-score", "LEEP", "features s")]
    ranked = selection.ranked
    for i, c in enumerate(ranked, start=1):
        if c.skipped is None:
            seconds = ("cached" if c.cached else f"{c.feature_seconds:.1f}") if c.cut == 0 else ""
            rows.append((str(i), c.name, c.block, fmt(c.logme), fmt(c.h_score), fmt(c.leep), seconds))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(f"{v:<{w}}" for v, w in zip(r, widths)).rstrip() for r in rows]
    lines += [f"{'-':<{widths[0]}}  {c.name:<{widths[1]}}  skipped: {c.skipped}" for c in ranked if c.skipped]
    return lines
