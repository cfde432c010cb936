"""`--distribute none|mirrored|multi-worker`: the `tf.distribute` strategy a run trains under.

The model is built and compiled inside `strategy_scope()`. `multi-worker` reads the
cluster from `TF_CONFIG`, as `tf.distribute.MultiWorkerMirroredStrategy` does.
"""

from __future__ import annotations

import contextlib
import json
import os

from zoo.errors import ConfigError


@contextlib.contextmanager
def strategy_scope(kind: str):
    """Yield the strategy (None for `none`) with its scope entered."""
    if kind == "none":
        yield None
        return
    import tensorflow as tf

    if kind == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    elif kind == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError("--distribute multi-worker needs TF_CONFIG (cluster and task) in the environment")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as exc:
            raise ConfigError(f"TF_CONFIG is not valid JSON: {exc.msg}") from None
        from zoo.training import multiworker

        multiworker.apply_patches()
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        raise ConfigError(f"unknown --distribute {kind!r}; use none, mirrored or multi-worker")
    with strategy.scope():
        yield strategy
