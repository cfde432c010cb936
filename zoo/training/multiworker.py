"""Make Keras' own `fit` run under `tf.distribute.MultiWorkerMirroredStrategy`.

As shipped, Keras 3.15 / TensorFlow 2.21 fail there (keras-team/keras#20585,
tensorflow/tensorflow#72388): `TensorFlowTrainer._maybe_symbolic_build` feeds a
`PerReplica` batch to the symbolic build and TensorFlow cannot convert it to a
tensor; then `reduce_per_replica` reduces the scalar metric results of a step with
`strategy.reduce("MEAN", v, axis=0)`, which fails on 0-d values ("Invalid reduction
dimension 0 for input with 0 dimensions"). The patches build from the first local
replica's batch, which has the shapes the build needs, and average the metric
results across workers with `axis=None`. It is applied only to the Keras versions it was checked
against; on others it does nothing, and the multi-worker test says whether fit
still works there.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

CHECKED_KERAS = ("3.15",)
_applied = False


def _needs_patch(version: str) -> bool:
    return any(version == v or version.startswith(v + ".") for v in CHECKED_KERAS)


def apply_patches() -> bool:
    """Patch Keras' TensorFlow trainer once; return whether the patch is active."""
    global _applied
    if _applied:
        return True
    import keras
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if not _needs_patch(keras.__version__):
        log.warning("keras %s is not a version the multi-worker patch was checked against; not patching",
                    keras.__version__)
        return False

    def local_value(x):
        if isinstance(x, tf.distribute.DistributedValues):
            return tf.distribute.get_strategy().experimental_local_results(x)[0]
        return x

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                with self.distribute_strategy.scope():
                    data_batch = tf.nest.map_structure(local_value, next(it))
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    original_reduce = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original_reduce(values, strategy, reduction)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    tf_trainer.reduce_per_replica = reduce_per_replica
    _applied = True
    return True
