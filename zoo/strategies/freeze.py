"""Freeze strategies: what trains (`--strategy`).

- `linear-probe`: the backbone is frozen (its features are cached by
  `zoo.training.features`), only the head trains.
- `partial`: the top `trainable_blocks` of `BackboneSpec.blocks()` train.
- `full`: everything trains.
- `gradual`: the head first, then one more block from the top every
  `unfreeze_every` epochs (ULMFiT). `GradualUnfreezing` re-traces the train
  function after each change, because Keras ignores `layer.trainable` changes
  until then, silently.
- `discriminative`: everything trains; block i from the top learns at
  `lr * lr_decay**i` through Keras' `MultiOptimizer`.
- `lora`: low-rank adapters (Keras `enable_lora`) on dense, einsum-dense,
  embedding and convolution kernels; only adapters and head train.

A frozen `BatchNormalization` runs in inference mode (Keras 3 does this for a
layer with `trainable=False`), so its moving statistics never move. With
`batchnorm="inference"` (the default) every batch norm layer of the backbone stays
frozen, in unfrozen blocks too (FrozenBatchNorm, as detection codebases and Keras'
transfer-learning guide do): small fine-tuning batches would otherwise replace the
pretrained statistics (seen on the CT demo: validation AUC 0.50 while training AUC
reached 1.0). `batchnorm="train"` lets unfrozen ones learn and update statistics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import ConfigError, PluginError

log = logging.getLogger(__name__)


@dataclass
class FreezePlan:
    """The blocks of a backbone (layers, input to output) and what a strategy did to them."""

    strategy: str
    blocks: list[list[Any]]
    trainable_blocks: int
    lora_layers: list[str] = field(default_factory=list)
    neck: list[Any] = field(default_factory=list)

    def describe(self) -> dict:
        return {
            "strategy": self.strategy,
            "blocks": len(self.blocks),
            "trainable_blocks": self.trainable_blocks,
            "lora_layers": len(self.lora_layers),
            **({"neck_layers": len(self.neck)} if self.neck else {}),
        }


def resolve_neck(spec, backbone) -> list[Any]:
    """The layers `spec.neck(backbone)` names (new layers that train under every strategy)."""
    if getattr(spec, "neck", None) is None:
        return []
    by_name = {layer.name: layer for layer in backbone.layers}
    names = list(spec.neck(backbone))
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise PluginError(f"backbone {spec.name!r}: neck() names unknown layer {unknown[0]!r}")
    return [by_name[n] for n in names]


def resolve_blocks(spec, backbone) -> list[list[Any]]:
    """Turn `spec.blocks(backbone)` layer names into layers; check they cover it (its neck aside) in order."""
    names = spec.blocks(backbone)
    neck = {layer.name for layer in resolve_neck(spec, backbone)}
    by_name = {layer.name: layer for layer in backbone.layers}
    order = {layer.name: i for i, layer in enumerate(backbone.layers)}
    if not names:
        raise PluginError(f"backbone {spec.name!r}: blocks() returned no blocks")
    blocks, seen, last = [], set(), -1
    for i, block in enumerate(names):
        if not block:
            raise PluginError(f"backbone {spec.name!r}: block {i} is empty")
        layers = []
        for name in block:
            if name not in by_name:
                raise PluginError(f"backbone {spec.name!r}: block {i} names unknown layer {name!r}")
            if name in seen:
                raise PluginError(f"backbone {spec.name!r}: layer {name!r} is in two blocks")
            if name in neck:
                raise PluginError(f"backbone {spec.name!r}: layer {name!r} is in a block and in the neck")
            seen.add(name)
            layers.append(by_name[name])
        first = min(order[n] for n in block)
        if first < last:
            raise PluginError(f"backbone {spec.name!r}: block {i} starts before block {i - 1} ends")
        last = max(order[n] for n in block)
        blocks.append(layers)
    missing = [layer.name for layer in backbone.layers if layer.weights and layer.name not in seen | neck]
    if missing:
        raise PluginError(
            f"backbone {spec.name!r}: blocks() leave layers with weights out: {', '.join(missing[:5])}"
            + (" ..." if len(missing) > 5 else "")
        )
    return blocks


def set_trainable_top(backbone, blocks, k: int, frozen_batchnorm: bool = True, neck=()) -> None:
    """Freeze the backbone except its top `k` blocks and its neck (every other layer is frozen)."""
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = False
    for block in blocks[len(blocks) - k:] if k else []:
        for layer in block:
            layer.trainable = True
    for layer in neck:
        layer.trainable = True
    if frozen_batchnorm:
        freeze_batchnorm(backbone)


def freeze_batchnorm(model) -> None:
    """Put every BatchNormalization inside `model` in inference mode, statistics and scale frozen."""
    import keras

    for layer in _leaf_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def apply_strategy(recipe, backbone, blocks, neck=()) -> FreezePlan:
    """Set `trainable` flags on the backbone for `recipe.strategy` (its `neck` layers always train); the plan."""
    plan = _apply(recipe, backbone, blocks)
    neck = list(neck)
    if neck:
        if not backbone.trainable:  # the linear probe: frozen blocks, a training neck
            set_trainable_top(backbone, blocks, 0, False, neck)
        for layer in neck:
            layer.trainable = True
        plan.neck = neck
    if recipe.batchnorm == "inference":
        freeze_batchnorm(backbone)
    return plan


def _apply(recipe, backbone, blocks) -> FreezePlan:
    strategy, n = recipe.strategy, len(blocks)
    if strategy == "linear-probe":
        backbone.trainable = False
        return FreezePlan(strategy, blocks, 0)
    if strategy == "partial":
        if recipe.trainable_blocks > n:
            raise ConfigError(
                f"--trainable-blocks {recipe.trainable_blocks} is more than the backbone's {n} blocks; "
                f"use 1..{n} or --strategy full"
            )
        set_trainable_top(backbone, blocks, recipe.trainable_blocks, recipe.batchnorm == "inference")
        return FreezePlan(strategy, blocks, recipe.trainable_blocks)
    if strategy in ("full", "discriminative"):
        backbone.trainable = True
        return FreezePlan(strategy, blocks, n)
    if strategy == "gradual":
        set_trainable_top(backbone, blocks, 0, recipe.batchnorm == "inference")
        return FreezePlan(strategy, blocks, 0)
    if strategy == "lora":
        names = enable_lora(backbone, recipe.lora_rank)
        if not names:
            raise ConfigError(f"--strategy lora: backbone {backbone.name!r} has no dense, einsum or conv kernel")
        return FreezePlan(strategy, blocks, 0, lora_layers=names)
    raise ConfigError(f"unknown strategy {strategy!r}")


def _leaf_layers(layer):
    children = list(layer._flatten_layers(include_self=False, recursive=False))
    if not children:
        yield layer
        return
    for child in children:
        yield from _leaf_layers(child)


def enable_lora(backbone, rank: int) -> list[str]:
    """Add rank-`rank` adapters to every LoRA-capable kernel; freeze all other weights.

    Returns the paths of the layers that got adapters. Only `lora_kernel_a/b` stay
    trainable (biases, norms and embeddings are frozen).
    """
    backbone.trainable = True
    names = []
    for layer in _leaf_layers(backbone):
        if not layer.weights:
            continue
        kernel = getattr(layer, "_kernel", None)
        if hasattr(layer, "enable_lora") and kernel is not None and not getattr(layer, "lora_enabled", False):
            if kernel.shape[-1] < 2 or min(kernel.shape) < 1:
                layer.trainable = False
                continue
            layer.enable_lora(rank)
            for weight in layer.weights:
                if "lora_kernel" not in weight.path:
                    weight.trainable = False
            names.append(layer.path)
        else:
            layer.trainable = False
    return names


def gradual_unfrozen(epoch: int, every: int, n_blocks: int) -> int:
    """How many top blocks train at `epoch` (0-based): 0 for the first `every` epochs, then one more."""
    return min(n_blocks, epoch // every)


def make_gradual_callback(backbone, blocks, every: int, frozen_batchnorm: bool = True, neck=()):
    import keras

    class GradualUnfreezing(keras.callbacks.Callback):
        """Unfreeze one more top block every `every` epochs and re-trace the train step.

        Keras builds the train function once; a `trainable` change is ignored until
        `make_train_function(force=True)`. The optimizer must already hold slots for
        every weight that will ever train (the engine builds it over all of them).
        """

        def __init__(self):
            super().__init__()
            self.current = None
            self.schedule: dict[int, int] = {}

        def on_epoch_begin(self, epoch, logs=None):
            k = gradual_unfrozen(epoch, every, len(blocks))
            self.schedule[epoch] = k
            if k != self.current:
                set_trainable_top(backbone, blocks, k, frozen_batchnorm, neck)
                self.current = k
                self.model.make_train_function(force=True)
                log.info("epoch %d: top %d of %d blocks trainable", epoch + 1, k, len(blocks))

    return GradualUnfreezing()


def block_lr_multipliers(blocks, decay: float) -> dict[str, float]:
    """Variable path -> learning-rate factor: 1 for the top block, `decay**i` i blocks down."""
    factors = {}
    n = len(blocks)
    for i, block in enumerate(blocks):
        factor = decay ** (n - 1 - i)
        for layer in block:
            for weight in layer.weights:
                factors[weight.path] = factor
    return factors


def nested_layers(model, keep) -> list:
    """Every layer of `model` for which `keep(layer)` holds, nested models included, each once, in order."""
    found, seen = [], set()

    def walk(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if keep(layer):
            found.append(layer)
        for sub in getattr(layer, "layers", None) or []:
            walk(sub)

    walk(model)
    return found
