"""Object detection, the Keras side of `zoo.tasks.Detection`: box decoding, the loss, in-graph NMS, mAP.

A detection model in keras-zoo is anchor-free and one-stage (FCOS-like): every *location* of a
feature pyramid predicts one box and one logit per class. The plugin's backbone hands the head a
vector per location followed by that location's anchor point, three channels in fractions of the
image: centre x, centre y and the level's stride. The head (`Detection.build_outputs`) predicts
four distances per location, in strides, and the class logits; `DecodeBoxes` turns them into
boxes, so the model's output (what `fit` sees) is, per location:

    [x1, y1, x2, y2, cx, cy, stride, logit_1 ... logit_C]      (boxes and anchors in image fractions)

Labels are padded box lists, `(max_boxes, 5)` per image: `[x1, y1, x2, y2, class]` in fractions
of the image, class -1 for padding rows.

`detection_loss` assigns locations to boxes as FCOS does (inside the box and near its centre, on
the pyramid level that fits the box's size, the smallest box where several fit) and adds a sigmoid
focal loss over classes to a GIoU loss over the assigned locations. `Postprocess` (what deployments
run, put behind the model by `Detection.serving_model`) keeps the `max_detections` best-scoring
locations and suppresses overlaps of the same class with Fast NMS (Bolya et al., YOLACT), plain
tensor operations that TFLite, ONNX and int8 convert without custom ops. Its output per image is
`(max_detections, 6)`: `[x1, y1, x2, y2, score, class]`, suppressed rows with score 0.

Example:

```python
import keras
from zoo.detection import Postprocess, detection_loss
dense = model(images)                         # (N, L, 7 + C)
final = Postprocess(max_detections=50)(dense)  # (N, 50, 6)
```
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from zoo.errors import ConfigError

ANCHOR_CHANNELS = 3          #: centre x, centre y, stride: the last channels of the head's input
BOX_CHANNELS = 4 + ANCHOR_CHANNELS  #: leading channels of the model's output before the class logits
CENTER_RADIUS = 1.5          #: FCOS centre sampling: a location counts when within 1.5 strides of the centre
#: A location takes a box when the box's farthest edge from it is within (LOW, HIGH] of its level's
#: strides (FCOS' 64-128-256 px ranges over strides 8-16-32 are (4, 8]; images here are 10x
#: smaller, so half that); with strides doubling level to level the ranges tile, the finest level
#: takes every smaller box and the coarsest every larger one.
LEVEL_LOW, LEVEL_HIGH = 2.0, 4.0
MAX_LOG_DISTANCE = 5.0       #: distances are stride * exp(d), d clipped here (148 strides)


@keras.saving.register_keras_serializable(package="zoo")
class DecodeBoxes(keras.layers.Layer):
    """`[raw (N, L, 4 + C), anchors (N, L, 3)]` -> `(N, L, 7 + C)`: distances in strides become boxes."""

    def call(self, inputs):
        raw, anchors = inputs
        raw = ops.cast(raw, "float32")
        anchors = ops.cast(anchors, "float32")
        cx, cy, stride = anchors[..., 0:1], anchors[..., 1:2], anchors[..., 2:3]
        dist = ops.exp(ops.clip(raw[..., :4], -MAX_LOG_DISTANCE, MAX_LOG_DISTANCE)) * stride
        boxes = ops.concatenate([cx - dist[..., 0:1], cy - dist[..., 1:2], cx + dist[..., 2:3], cy + dist[..., 3:4]],
                                axis=-1)
        return ops.concatenate([ops.clip(boxes, 0.0, 1.0), anchors, raw[..., 4:]], axis=-1)

    def compute_output_shape(self, shapes):
        raw, _anchors = shapes
        return (*raw[:-1], raw[-1] + ANCHOR_CHANNELS)


@keras.saving.register_keras_serializable(package="zoo")
class PyramidLocations(keras.layers.Layer):
    """Feature maps of a pyramid `[(N, H_k, W_k, F), ...]` -> `(N, sum H_k W_k, F + 3)`: every location's
    features followed by its anchor point, centre x, centre y and stride in fractions of the image
    (the stride of a level is 1 / W_k: square cells). What a detection backbone hands the head."""

    def call(self, maps):
        rows = []
        for fmap in maps:
            h, w = int(fmap.shape[1]), int(fmap.shape[2])
            xs, ys = np.meshgrid((np.arange(w) + 0.5) / w, (np.arange(h) + 0.5) / h)
            points = np.stack([xs.ravel(), ys.ravel(), np.full(h * w, 1.0 / w)], axis=-1).astype("float32")
            flat = ops.reshape(fmap, (-1, h * w, int(fmap.shape[-1])))
            anchors = ops.broadcast_to(ops.convert_to_tensor(points)[None], (ops.shape(flat)[0], h * w, 3))
            rows.append(ops.concatenate([flat, ops.cast(anchors, flat.dtype)], axis=-1))
        return ops.concatenate(rows, axis=1)

    def compute_output_shape(self, shapes):
        total = sum(int(s[1]) * int(s[2]) for s in shapes)
        return (shapes[0][0], total, int(shapes[0][-1]) + ANCHOR_CHANNELS)


@keras.saving.register_keras_serializable(package="zoo")
class AnchorPoints(keras.layers.Layer):
    """The last `ANCHOR_CHANNELS` channels of the head's input: each location's anchor point."""

    def call(self, x):
        return ops.cast(x[..., -ANCHOR_CHANNELS:], "float32")

    def compute_output_shape(self, shape):
        return (*shape[:-1], ANCHOR_CHANNELS)


def pairwise_iou(a, b):
    """IoU of every box in `a` (..., A, 4) with every box in `b` (..., B, 4) -> (..., A, B)."""
    a, b = ops.expand_dims(a, -2), ops.expand_dims(b, -3)
    ix = ops.maximum(ops.minimum(a[..., 2], b[..., 2]) - ops.maximum(a[..., 0], b[..., 0]), 0.0)
    iy = ops.maximum(ops.minimum(a[..., 3], b[..., 3]) - ops.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = ix * iy
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / ops.maximum(area_a + area_b - inter, 1e-9)


def _giou(p, g):
    """Generalised IoU of matching boxes (..., 4) and (..., 4)."""
    ix = ops.maximum(ops.minimum(p[..., 2], g[..., 2]) - ops.maximum(p[..., 0], g[..., 0]), 0.0)
    iy = ops.maximum(ops.minimum(p[..., 3], g[..., 3]) - ops.maximum(p[..., 1], g[..., 1]), 0.0)
    inter = ix * iy
    union = (p[..., 2] - p[..., 0]) * (p[..., 3] - p[..., 1]) + (g[..., 2] - g[..., 0]) * (g[..., 3] - g[..., 1]) - inter
    iou = inter / ops.maximum(union, 1e-9)
    hull = ((ops.maximum(p[..., 2], g[..., 2]) - ops.minimum(p[..., 0], g[..., 0]))
            * (ops.maximum(p[..., 3], g[..., 3]) - ops.minimum(p[..., 1], g[..., 1])))
    return iou - (hull - union) / ops.maximum(hull, 1e-9)


def assign(y_true, anchors):
    """FCOS assignment: `(positive (N, L) bool, box (N, L, 4), class (N, L) int)` for every location.

    `y_true` (N, M, 5) padded boxes, `anchors` (N, L, 3). A location is a candidate for a box when
    it lies inside the box, within `CENTER_RADIUS` strides of its centre, and on the level that fits
    the box's size; of several candidates' boxes it takes the smallest.
    """
    y_true = ops.cast(y_true, "float32")
    boxes, cls = y_true[..., :4], y_true[..., 4]
    valid = cls >= 0                                                       # (N, M)
    cx, cy, stride = (ops.expand_dims(anchors[..., k], -1) for k in range(3))  # (N, L, 1)
    x1, y1, x2, y2 = (ops.expand_dims(boxes[..., k], 1) for k in range(4))     # (N, 1, M)
    left, top, right, bottom = cx - x1, cy - y1, x2 - cx, y2 - cy
    inside = ops.minimum(ops.minimum(left, top), ops.minimum(right, bottom)) > 0
    gcx, gcy = (x1 + x2) / 2, (y1 + y2) / 2
    near = ops.logical_and(ops.abs(cx - gcx) < CENTER_RADIUS * stride, ops.abs(cy - gcy) < CENTER_RADIUS * stride)
    reach = ops.maximum(ops.maximum(left, top), ops.maximum(right, bottom)) / stride
    finest = stride <= ops.min(anchors[..., 2], axis=1, keepdims=True)[..., None] * 1.0001
    coarsest = stride >= ops.max(anchors[..., 2], axis=1, keepdims=True)[..., None] * 0.9999
    level = ops.logical_and(ops.logical_or(reach > LEVEL_LOW, finest), ops.logical_or(reach <= LEVEL_HIGH, coarsest))
    candidate = ops.logical_and(ops.logical_and(inside, near), ops.logical_and(level, ops.expand_dims(valid, 1)))
    area = (x2 - x1) * (y2 - y1)                                           # (N, 1, M)
    cost = ops.where(candidate, area, 1e9 + ops.zeros_like(area))
    best = ops.argmin(cost, axis=-1)                                       # (N, L)
    positive = ops.any(candidate, axis=-1)
    chosen = ops.take_along_axis(boxes, ops.expand_dims(best, -1), axis=1)               # (N, L, 4)
    chosen_cls = ops.take_along_axis(cls, best, axis=1)
    return positive, chosen, ops.cast(chosen_cls, "int32")


def detection_loss(y_true, y_pred, alpha: float = 0.25, gamma: float = 2.0):
    """Per image: (sigmoid focal loss over classes + GIoU loss over assigned locations) / assigned locations."""
    y_pred = ops.cast(y_pred, "float32")
    anchors = y_pred[..., 4:BOX_CHANNELS]
    logits = y_pred[..., BOX_CHANNELS:]
    positive, boxes, cls = assign(y_true, anchors)
    n_classes = ops.shape(logits)[-1]
    target = ops.one_hot(ops.maximum(cls, 0), n_classes) * ops.expand_dims(ops.cast(positive, "float32"), -1)
    p = ops.sigmoid(logits)
    ce = ops.maximum(logits, 0.0) - logits * target + ops.log1p(ops.exp(-ops.abs(logits)))
    p_t = p * target + (1 - p) * (1 - target)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    focal = ops.sum(alpha_t * ops.power(1 - p_t, gamma) * ce, axis=(1, 2))
    weight = ops.cast(positive, "float32")
    box = ops.sum((1.0 - _giou(y_pred[..., :4], boxes)) * weight, axis=1)
    count = ops.maximum(ops.sum(weight, axis=1), 1.0)
    return (focal + box) / count


@keras.saving.register_keras_serializable(package="zoo")
class Postprocess(keras.layers.Layer):
    """`(N, L, 7 + C)` -> `(N, K, 6)` final detections `[x1, y1, x2, y2, score, class]`, best first.

    The K best locations by class score, then Fast NMS per class: a box is dropped when a
    higher-scoring box of its class overlaps it at IoU above `iou_threshold`. Dropped rows and
    rows under `score_threshold` get score 0 (they stay, so every shape is fixed for export).
    """

    def __init__(self, max_detections: int = 100, iou_threshold: float = 0.5, score_threshold: float = 0.05,
                 **kwargs):
        super().__init__(**kwargs)
        self.max_detections = int(max_detections)
        self.iou_threshold = float(iou_threshold)
        self.score_threshold = float(score_threshold)

    def call(self, dense):
        dense = ops.cast(dense, "float32")
        probs = ops.sigmoid(dense[..., BOX_CHANNELS:])
        # top_k over classes, not argmax: Keras' TensorFlow argmax adds bitwise ops TFLite lacks
        best, best_class = ops.top_k(probs, 1)
        scores, classes = best[..., 0], ops.cast(best_class[..., 0], "float32")
        k = min(self.max_detections, int(dense.shape[1])) if dense.shape[1] is not None else self.max_detections
        top, index = ops.top_k(scores, k)                                   # sorted, best first
        boxes = ops.take_along_axis(dense[..., :4], ops.expand_dims(index, -1), axis=1)
        classes = ops.take_along_axis(classes, index, axis=1)
        shifted = boxes + ops.expand_dims(classes, -1) * 2.0                # other classes never overlap
        iou = pairwise_iou(shifted, shifted)                                # (N, K, K)
        upper = ops.convert_to_tensor(np.triu(np.ones((k, k), "float32"), 1))  # [i, j]: i scores above j
        overlap = ops.max(iou * upper, axis=1)                              # best overlap with a better box
        # float masks multiplied, not a boolean and: TFLite has no kernel for the BitwiseAnd it becomes
        top = top * ops.cast(overlap <= self.iou_threshold, "float32") * ops.cast(top >= self.score_threshold,
                                                                                  "float32")
        return ops.concatenate([boxes, ops.expand_dims(top, -1), ops.expand_dims(classes, -1)], axis=-1)

    def compute_output_shape(self, shape):
        k = self.max_detections if shape[1] is None else min(self.max_detections, shape[1])
        return (shape[0], k, 6)

    def get_config(self):
        return {**super().get_config(), "max_detections": self.max_detections, "iou_threshold": self.iou_threshold,
                "score_threshold": self.score_threshold}


def postprocess(dense: np.ndarray, **kwargs) -> np.ndarray:
    """`Postprocess` on a numpy array (the same operations the exported graph runs)."""
    return np.asarray(Postprocess(**kwargs)(np.asarray(dense, dtype=np.float32)))


#: boxes are in fractions of the image; COCO's evaluation gets them on this many pixels a side
COCO_SCALE = 1000.0


def coco_map(labels: np.ndarray, detections: np.ndarray, n_classes: int) -> dict:
    """COCO mAP@[.5:.95], mAP@.5 and AP@[.5:.95] per class, by `pycocotools` (the reference implementation).

    `labels` (N, M, 5) padded boxes, `detections` (N, K, 6) from `Postprocess`. A class with no
    ground-truth box has AP None (COCO leaves it out of the mean). `pr_50` holds, per class, the
    interpolated precision at COCO's 101 recall points (0, 0.01, ... 1) at IoU 0.5 (None: no
    ground truth; 0 past the highest recall reached), what a precision-recall plot draws.
    """
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise ConfigError("detection metrics need pycocotools: pip install 'keras-zoo[detection]'") from None
    import contextlib
    import io

    labels, detections = np.asarray(labels, dtype=np.float64), np.asarray(detections, dtype=np.float64)
    images, annotations, results = [], [], []
    for i in range(len(labels)):
        images.append({"id": i, "width": COCO_SCALE, "height": COCO_SCALE})
        for x1, y1, x2, y2, c in labels[i]:
            if c < 0:
                continue
            w, h = (x2 - x1) * COCO_SCALE, (y2 - y1) * COCO_SCALE
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(c), "iscrowd": 0,
                                "bbox": [x1 * COCO_SCALE, y1 * COCO_SCALE, w, h], "area": w * h})
        for x1, y1, x2, y2, s, c in detections[i]:
            if s > 0:
                results.append({"image_id": i, "category_id": int(c), "score": float(s),
                                "bbox": [x1 * COCO_SCALE, y1 * COCO_SCALE, (x2 - x1) * COCO_SCALE,
                                         (y2 - y1) * COCO_SCALE]})
    if not annotations:
        return {"map": float("nan"), "map_50": float("nan"), "ap_per_class": [None] * n_classes,
                "pr_50": [None] * n_classes}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations,
                      "categories": [{"id": c} for c in range(n_classes)]}
        gt.createIndex()
        if not results:
            present = [bool((labels[..., 4] == c).any()) for c in range(n_classes)]
            return {"map": 0.0, "map_50": 0.0, "ap_per_class": [0.0 if p else None for p in present],
                    "pr_50": [[0.0] * 101 if p else None for p in present]}
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.maxDets = [1, 10, max(100, detections.shape[1])]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]  # (IoU, recall, class, area, maxDets)
    per_class, curves = [], []
    for c in range(n_classes):
        p = precision[:, :, c, 0, -1]
        per_class.append(float(p[p > -1].mean()) if (p > -1).any() else None)
        curves.append([float(v) for v in precision[0, :, c, 0, -1]] if (p > -1).any() else None)
    return {"map": float(max(ev.stats[0], 0.0)), "map_50": float(max(ev.stats[1], 0.0)), "ap_per_class": per_class,
            "pr_50": curves}


def _greedy_match(ref: np.ndarray, out: np.ndarray, iou: float) -> np.ndarray:
    """For each row of `ref`, the index of its match in `out` (same class, IoU >= `iou`, each row
    of `out` used once, `ref` taken in order) or -1."""
    used = np.zeros(len(out), bool)
    found = np.full(len(ref), -1)
    for i, box in enumerate(ref):
        if not len(out):
            break
        overlaps = np.array(pairwise_iou(box[None, :4].astype("float32"), out[:, :4].astype("float32")))[0]
        overlaps[(out[:, 5] != box[5]) | used] = 0
        j = int(np.argmax(overlaps))
        if overlaps[j] >= iou:
            used[j] = True
            found[i] = j
    return found


def match_boxes(reference: np.ndarray, produced: np.ndarray, score_threshold: float,
                iou: float = 0.9) -> tuple[int, int]:
    """`(matched, total)`: of `reference`'s boxes scoring >= `score_threshold` (one image, (K, 6)),
    how many `produced` also has, same class at IoU >= `iou` (each produced box matched once).

    A produced box counts from half the threshold, so a score moved a little across it is not a
    lost box; scores themselves are compared elsewhere (within the export's tolerance)."""
    ref = reference[reference[:, 4] >= score_threshold]
    out = produced[produced[:, 4] >= score_threshold / 2]
    return int((_greedy_match(ref, out, iou) >= 0).sum()), len(ref)


def pair_boxes(reference: np.ndarray, produced: np.ndarray, score_threshold: float,
               iou: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Two (M, 6) arrays of one image's rows set side by side for a value comparison: each box
    scoring >= `score_threshold` on either side beside its match on the other (same class, IoU >=
    `iou`, from half the threshold, as in `match_boxes`) or beside a row of zeros."""
    ref = np.asarray(reference, "float32")
    out = np.asarray(produced, "float32")

    def side_by_side(a, b, skip_a, skip_b):
        """`a`'s rows >= the threshold (not in `skip_a`) and their matches in `b` (not in `skip_b`)."""
        rows = np.array([r for r in np.flatnonzero(a[:, 4] >= score_threshold) if r not in skip_a], int)
        near = np.array([k for k in np.flatnonzero(b[:, 4] >= score_threshold / 2) if k not in skip_b], int)
        found = _greedy_match(a[rows], b[near], iou)
        other = np.zeros((len(rows), 6), "float32")
        other[found >= 0] = b[near[found[found >= 0]]]
        return a[rows], other, set(rows.tolist()), set(near[found[found >= 0]].tolist())

    ref_rows, out_match, ref_used, out_used = side_by_side(ref, out, set(), set())
    out_rows, ref_match, _, _ = side_by_side(out, ref, out_used, ref_used)
    return np.concatenate([ref_rows, ref_match]), np.concatenate([out_match, out_rows])
