"""Two workers on loopback train one model with MultiWorkerMirroredStrategy through `zoo finetune`."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_agree_on_the_trained_weights(toy_target, tmp_path):
    import keras

    ports = free_ports(2)
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), PYTHONPATH=str(toy_target))
        cmd = [sys.executable, "-m", "zoo.cli", "finetune", "-p", "toy", "--strategy", "full", "--epochs", "2",
               "--distribute", "multi-worker", "--runs-dir", str(tmp_path / f"worker{index}")]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    models = []
    for index in range(2):
        (run,) = list((tmp_path / f"worker{index}").iterdir())
        models.append(keras.saving.load_model(run / "model.keras"))
    a, b = models
    assert len(a.trainable_weights) == len(b.trainable_weights) > 0
    for wa, wb in zip(a.trainable_weights, b.trainable_weights):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), atol=1e-6, err_msg=wa.path)
    # Both trained (the weights are not still the shared initialisation): the first epoch logged a loss.
    assert all("Epoch 2/2" in out for out in outputs)
