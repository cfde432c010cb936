"""Fixtures of the export tests: two small models trained on separable synthetic data.

They are trained (a few epochs, seconds on CPU) so that their outputs are confident and the
parity checks mean something: an untrained model's near-uniform outputs would agree with
almost any artifact. Training happens once per test session.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from export_testing_models import Trained, build_cnn, build_text, make_images, make_sequences


@pytest.fixture(scope="session")
def cnn() -> Trained:
    import keras

    keras.utils.set_random_seed(0)
    x, y = make_images(1200, seed=1)
    xv, yv = make_images(200, seed=2)
    model = build_cnn()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    accuracy = float(np.mean(np.argmax(model.predict(xv, verbose=0), -1) == yv))
    assert accuracy > 0.9, f"the test CNN did not learn its synthetic task ({accuracy:.2f})"
    return Trained(model, {"image": x}, {"image": x[:100]}, {"image": xv[:96]},
                   {"image": xv}, yv, "multiclass")


@pytest.fixture(scope="session")
def text() -> Trained:
    import keras

    keras.utils.set_random_seed(0)
    x, y = make_sequences(2000, seed=3)
    xv, yv = make_sequences(300, seed=4)
    model = build_text()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=6, batch_size=64, verbose=0)
    accuracy = float(np.mean((model.predict(xv, verbose=0)[:, 0] > 0.5) == yv))
    assert accuracy > 0.9, f"the test text model did not learn its synthetic task ({accuracy:.2f})"
    return Trained(model, x, {k: v[:100] for k, v in x.items()}, {k: v[:96] for k, v in xv.items()},
                   xv, yv, "binary")
