"""The seed's loss, `L = L_task + lambda * L_pretrain` (`--regularizer`, `--reg-weight`).

- `l2sp`: `L_pretrain = sum ||w - w_pretrained||^2` over the backbone weights that
  train, a backbone's new neck layers aside (Li et al. 2018, "Explicit inductive bias for transfer learning").
- `lwf`: `L_pretrain = mean (f(x) - f_pretrained(x))^2`, the distance between the
  pooled features of the model and of a frozen copy of the pretrained backbone on
  the same batch (Learning without Forgetting, with features as the old task).

`FinetuneModel` wraps the deployable model for training only; the term is added
with `add_loss` and logged as its own metric (`l2sp` / `lwf`, unweighted; `val_lwf` is the
distillation distance on validation data).
The saved `model.keras` is the inner functional model, without the wrapper.
"""

from __future__ import annotations

import keras
from keras import ops


class _Constants:
    """Holds tensors out of Keras' attribute tracking."""

    def __init__(self, values):
        self.values = values


class FinetuneModel(keras.Model):
    """Trains `dual` (inputs -> [outputs, pooled features]) and adds the pretrain term.

    Example:

    ```python
    trainer = FinetuneModel(dual, backbone_name="mobilenetv2", regularizer="l2sp", reg_weight=0.01)
    trainer.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    trainer.fit(dataset)
    ```
    """

    def __init__(self, dual, backbone_name: str, regularizer: str = "none", reg_weight: float = 0.0,
                 teacher=None, exclude=(), **kwargs):
        super().__init__(**kwargs)
        self.dual = dual
        self.backbone_name = backbone_name
        self.regularizer = regularizer
        self.reg_weight = float(reg_weight)
        self.teacher = teacher
        self._anchors = None
        self.reg_tracker = None
        if regularizer != "none":
            self.reg_tracker = keras.metrics.Mean(name=regularizer)
        if regularizer == "l2sp":
            backbone = dual.get_layer(backbone_name)
            new = {w.path for name in exclude for w in backbone.get_layer(name).weights}  # a neck: nothing to keep
            self._anchors = _Constants({w.path: ops.convert_to_tensor(ops.copy(w.value)) for w in backbone.weights
                                        if w.path not in new})
        if regularizer == "lwf" and teacher is None:
            raise ValueError("the lwf regularizer needs a frozen teacher (the pretrained feature model)")
        self.built = True  # `dual` is a built functional model; nothing here has weights of its own

    def pretrain_term(self, inputs, features):
        """The unweighted `L_pretrain` for this batch."""
        if self.regularizer == "l2sp":
            backbone = self.dual.get_layer(self.backbone_name)
            terms = [ops.sum(ops.square(ops.cast(w.value, "float32") - self._anchors.values[w.path]))
                     for w in backbone.trainable_weights if w.path in self._anchors.values]
            return ops.sum(ops.stack(terms)) if terms else ops.convert_to_tensor(0.0)
        teacher_features = self.teacher(inputs, training=False)
        diff = ops.cast(features, "float32") - ops.cast(teacher_features, "float32")
        return ops.mean(ops.square(diff))

    def call(self, inputs, training=False):
        outputs, features = self.dual(inputs, training=training)
        if self.regularizer != "none":
            term = self.pretrain_term(inputs, features)
            if training:
                self.add_loss(self.reg_weight * term)
            self.reg_tracker.update_state(term)
        return outputs
