"""The detection task kind (zoo.tasks.Detection, zoo.detection): assignment, Fast NMS, COCO mAP, a
small detector trained on drawn squares, saved and loaded in safe mode, exported to TFLite and ONNX
with its NMS in the graph and verified by box agreement."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from zoo.errors import DataError
from zoo.tasks import Detection

CLASSES = ["red", "green"]
COLOURS = {0: (220, 40, 40), 1: (40, 220, 40)}


def scenes(n: int, seed: int, size: int = 64, max_boxes: int = 4):
    """Noisy dark images with 1-3 red or green squares each (10-35 px), and their padded boxes."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 60, (n, size, size, 3)).astype("float32")
    y = -np.ones((n, max_boxes, 5), "float32")
    for i in range(n):
        for b in range(int(rng.integers(1, 4))):
            s = int(rng.integers(10, 36))
            x0, y0 = (int(v) for v in rng.integers(0, size - s, 2))
            c = int(rng.integers(0, 2))
            x[i, y0:y0 + s, x0:x0 + s] = COLOURS[c]
            y[i, b] = [x0 / size, y0 / size, (x0 + s) / size, (y0 + s) / size, c]
    return x / 255.0, y


def dense(rows):
    """A model output (1, L, 7 + 2) from rows (box, anchor, class-0 logit, class-1 logit)."""
    return np.asarray([rows], "float32")


def test_fast_nms_keeps_the_best_of_overlapping_boxes_of_one_class_only():
    from zoo.detection import postprocess

    anchor = [0.5, 0.5, 0.125]
    out = postprocess(dense([[0.1, 0.1, 0.5, 0.5, *anchor, 3.0, -9],     # red, best
                             [0.12, 0.1, 0.5, 0.52, *anchor, 2.0, -9],   # red, overlaps it: dropped
                             [0.1, 0.1, 0.5, 0.5, *anchor, -9, 1.0],     # green on the same spot: kept
                             [0.6, 0.6, 0.9, 0.9, *anchor, 0.5, -9],     # red elsewhere: kept
                             [0.6, 0.6, 0.7, 0.7, *anchor, -9, -9]]),    # below the score floor
                      max_detections=4)[0]
    assert out.shape == (4, 6)                                            # top 4 of 5 locations
    kept = out[out[:, 4] > 0]
    assert [int(c) for c in kept[:, 5]] == [0, 1, 0]
    np.testing.assert_allclose(kept[:, 4], 1 / (1 + np.exp(-np.array([3.0, 1.0, 0.5]))), rtol=1e-5)


def test_assignment_puts_a_box_on_the_level_that_fits_it_near_its_centre():
    from zoo.detection import assign

    # two levels of a 64-px image: 8x8 (stride 1/8) and 4x4 (stride 1/4)
    anchors = []
    for g in (8, 4):
        for i in range(g):
            for j in range(g):
                anchors.append([(j + 0.5) / g, (i + 0.5) / g, 1 / g])
    anchors = np.asarray([anchors], "float32")
    small = [0.30, 0.30, 0.45, 0.45, 1]   # 10 px: the finest level
    large = [0.0, 0.0, 1.0, 1.0, 0]       # the whole image: 2 strides or more of the coarse level
    labels = np.asarray([[small, large, [-1] * 5]], "float32")
    positive, boxes, cls = (np.asarray(v)[0] for v in assign(labels, anchors))
    fine = slice(0, 64)
    small_hits = np.flatnonzero(positive[fine] & (cls[fine] == 1))
    assert len(small_hits) >= 1
    for k in small_hits:                  # inside the small box, matched to it
        cx, cy, _ = anchors[0, k]
        assert 0.30 < cx < 0.45 and 0.30 < cy < 0.45
        np.testing.assert_allclose(boxes[k], small[:4])
    assert positive[64:].any() and set(cls[64:][positive[64:]]) == {0}  # the large box: coarse level
    assert not (positive[fine] & (cls[fine] == 0)).any()                 # and not on the fine one


def test_coco_map_from_pycocotools_perfect_wrong_class_and_loose_boxes():
    from zoo.detection import coco_map

    labels = np.asarray([[[0.1, 0.1, 0.5, 0.5, 0], [0.6, 0.6, 0.9, 0.95, 1]]], "float32")
    perfect = np.asarray([[[0.1, 0.1, 0.5, 0.5, 0.9, 0], [0.6, 0.6, 0.9, 0.95, 0.8, 1]]], "float32")
    assert coco_map(labels, perfect, 2)["map"] == pytest.approx(1.0)
    wrong = perfect.copy()
    wrong[..., 5] = 1 - wrong[..., 5]
    assert coco_map(labels, wrong, 2)["map"] == 0.0
    loose = perfect.copy()
    loose[0, :, 2] += 0.12                 # IoU about 0.7: right at .5, wrong at .75 and above
    result = coco_map(labels, loose, 2)
    assert result["map_50"] == pytest.approx(1.0) and 0.2 < result["map"] < 0.7
    assert len(result["ap_per_class"]) == 2


def test_precision_recall_per_class_and_its_plot(tmp_path):
    from zoo.detection import coco_map
    from zoo.reports import write_plots

    # class 0: two boxes, one found (0.9), one missed, and a false alarm (0.8): precision 1 up to recall
    # 0.5, nothing after; class 1 has no ground truth
    labels = np.asarray([[[0.1, 0.1, 0.4, 0.4, 0], [0.6, 0.6, 0.9, 0.9, 0]]], "float32")
    found = np.asarray([[[0.1, 0.1, 0.4, 0.4, 0.9, 0], [0.5, 0.05, 0.55, 0.2, 0.8, 0]]], "float32")
    result = coco_map(labels, found, 2)
    curve = np.asarray(result["pr_50"][0])
    assert curve.shape == (101,)
    np.testing.assert_allclose(curve, [1.0] * 51 + [0.0] * 50, atol=1e-9)
    assert result["pr_50"][1] is None
    assert result["map_50"] == pytest.approx(curve.mean(), abs=1e-6)
    written = write_plots(tmp_path, [], Detection(), CLASSES, labels, found)
    assert written == ["pr_per_class.png"]
    assert (tmp_path / "plots" / "pr_per_class.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_float_exports_are_compared_box_by_box_not_row_by_row():
    """Two near-equal scores swapped by rounding reorder the NMS output rows: the value check pairs
    boxes first, so a swap passes, while a lost or a moved box still fails."""
    from zoo_export.api import Runner
    from zoo_export.verify import Tolerance, verify

    class Rows(Runner):
        def __init__(self, rows):
            super().__init__({"image": ((1,), "float32")})
            self.rows = rows

        def _run(self, inputs):
            return self.rows

    task = Detection()
    keras_rows = np.zeros((1, 5, 6), "float32")
    keras_rows[0, 0] = [0.1, 0.1, 0.4, 0.4, 0.90, 0]
    keras_rows[0, 1] = [0.5, 0.5, 0.9, 0.9, 0.600001, 1]
    keras_rows[0, 2] = [0.6, 0.1, 0.9, 0.3, 0.600000, 2]
    keras_rows[0, 3] = [0.2, 0.6, 0.3, 0.7, 0.10, 1]     # below the decision threshold
    keras_rows[0, 4] = [0.7, 0.7, 0.8, 0.8, 0.09, 0]
    swapped = keras_rows.copy()
    swapped[0, [1, 2]] = keras_rows[0, [2, 1]]
    swapped[0, [3, 4]] = keras_rows[0, [4, 3]]
    swapped[0, 1, 4] += 2e-6
    tol = Tolerance(atol=1e-4, rtol=1e-5)

    def check(produced, **kw):
        return verify(Rows(keras_rows), Rows(produced), {"image": np.zeros((1, 1), "float32")}, task_kind=task.kind,
                      tolerance=tol, agreement=lambda r, p: task.agreement(r, p), **kw)

    assert not check(swapped).passed  # row by row, the swap reads as two wrong boxes
    report = check(swapped, comparable=lambda r, p: task.comparable(r, p))
    assert report.passed and report.agreement == 1.0 and report.max_abs_diff < 1e-5, report.reason
    lost = swapped.copy()
    lost[0, 1] = 0
    assert "exceeds" in check(lost, comparable=lambda r, p: task.comparable(r, p)).reason
    moved = keras_rows.copy()
    moved[0, 0, :4] += 0.001
    report = check(moved, comparable=lambda r, p: task.comparable(r, p))
    assert not report.passed and abs(report.max_abs_diff - 0.001) < 1e-6
    extra = keras_rows.copy()
    extra[0, 3, 4] = 0.8                               # a box Keras scored 0.10 scores 0.8 here
    assert not check(extra, comparable=lambda r, p: task.comparable(r, p)).passed
    ref, out = task.comparable(keras_rows, extra)
    assert len(ref) == len(out) == 4


def test_labels_outside_the_image_or_of_unknown_classes_are_named():
    task = Detection()
    good = np.asarray([[[0.1, 0.1, 0.5, 0.5, 0], [-1, -1, -1, -1, -1]]], "float32")
    task.check_labels(good, CLASSES, "training")
    for bad, row in (([0.1, 0.1, 1.3, 0.5, 0], 0), ([0.5, 0.1, 0.2, 0.5, 1], 0), ([0.1, 0.1, 0.5, 0.5, 2], 0)):
        labels = good.copy()
        labels[0, row] = bad
        with pytest.raises(DataError, match="training image 0, box 0"):
            task.check_labels(labels, CLASSES, "training")
    with pytest.raises(DataError, match=r"\(N, max_boxes, 5\)"):
        task.check_labels(np.zeros((3, 5)), CLASSES, "validation")


@pytest.fixture(scope="module")
def detector():
    """A small two-level detector through the core's head, trained 15 epochs on 512 drawn scenes (~15 s)."""
    import keras

    from zoo.detection import PyramidLocations
    from zoo.strategies.heads import build_head

    keras.utils.set_random_seed(0)
    task = Detection()
    image = keras.Input((64, 64, 3), name="image")
    x = keras.layers.Conv2D(16, 3, 2, "same", activation="relu")(image)
    x = keras.layers.Conv2D(32, 3, 2, "same", activation="relu")(x)
    p3 = keras.layers.Conv2D(32, 3, 2, "same", activation="relu")(x)   # 8 x 8
    p4 = keras.layers.Conv2D(32, 3, 2, "same", activation="relu")(p3)  # 4 x 4
    features = PyramidLocations(name="locations")([p3, p4])
    head = build_head(35, task, len(CLASSES), SimpleNamespace(head="mlp", head_hidden=64, dropout=0.0), sequence=True)
    model = keras.Model(image, head(features))
    x_val, y_val = scenes(64, 1)
    untrained = task.score(y_val, model.predict(x_val, verbose=0))
    x_train, y_train = scenes(512, 0)
    model.compile(keras.optimizers.Adam(3e-3), loss=task.keras_loss())
    model.fit(x_train, y_train, batch_size=32, epochs=15, verbose=0)
    return SimpleNamespace(task=task, model=model, x=x_val, y=y_val, untrained=untrained)


@pytest.mark.slow
def test_a_trained_detector_finds_the_squares(detector):
    task, model = detector.task, detector.model
    assert model.output.shape[1:] == (80, 7 + len(CLASSES))   # 64 + 16 locations
    trained = task.score(detector.y, model.predict(detector.x, verbose=0))
    assert trained["loss"] < detector.untrained["loss"]
    assert trained["map_50"] > 0.25 and detector.untrained["map_50"] < 0.05, (trained, detector.untrained)
    final = task.serving_model(model).predict(detector.x[:4], verbose=0)
    assert final.shape == (4, task.max_detections if task.max_detections < 80 else 80, 6)
    row = task.decode(model.predict(detector.x[:1], verbose=0)[0], CLASSES)
    assert row["boxes"] and all(b["class"] in CLASSES and b["score"] >= 0.3 for b in row["boxes"])
    scores = [b["score"] for b in row["boxes"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.slow
def test_a_detector_saves_and_loads_in_safe_mode(detector, tmp_path):
    from zoo.loading import load_keras_model

    detector.model.save(tmp_path / "model.keras")
    loaded = load_keras_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(detector.x[:8], verbose=0),
                               detector.model.predict(detector.x[:8], verbose=0), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_exports_keep_their_boxes(detector, tmp_path, fmt):
    """NMS is in the exported graph: the artifact gives final boxes, the same as Keras'."""
    from zoo_export import onnx, tflite
    from zoo_export.api import ExportOptions
    from zoo_export.export import export_model
    from zoo_export.runtime import load_artifact

    task = detector.task
    serving = task.serving_model(detector.model)
    exporter = {"tflite": tflite.exporter, "onnx": onnx.exporter}[fmt]
    out = tmp_path / f"model{exporter.suffix}"
    report = export_model(serving, exporter, out, samples={"image": detector.x[:32]}, options=ExportOptions(),
                          task_kind=task.kind, agreement=task.agreement,
                          comparable=task.comparable)
    assert report.verification.passed, report.verification.reason
    produced = load_artifact(out)({"image": detector.x})
    kind, fraction = task.agreement(serving.predict(detector.x, verbose=0), produced)
    assert kind.startswith("boxes found") and fraction == 1.0
    assert produced.shape[-1] == 6
