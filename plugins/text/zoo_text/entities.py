"""Entity-level precision, recall and F1 for BIO tags (the CoNLL / seqeval default scheme).

An entity is a maximal run of tags of one type that starts at `B-X`, or at an `I-X` that does not
continue an entity of type X (conlleval's rule). A predicted entity counts as correct only when its
type, first word and last word all match a true entity: a partial span is a miss (a false positive
and a false negative at once).

Example:

```python
entities(["B-PER", "I-PER", "O", "B-LOC"])           # [("PER", 0, 2), ("LOC", 3, 4)]
entity_scores([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])["f1"]   # 0.0 (partial span)
```
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

import numpy as np

OUTSIDE = "O"
_TAG = re.compile(r"^([BI])-(\S+)$")


def split_tag(tag: str) -> tuple[str, str | None]:
    """`"B-PER"` -> `("B", "PER")`, `"O"` -> `("O", None)`; ValueError for anything else."""
    if tag == OUTSIDE:
        return OUTSIDE, None
    match = _TAG.match(tag)
    if not match:
        raise ValueError(f"tag {tag!r} is not BIO (O, B-TYPE or I-TYPE)")
    return match.group(1), match.group(2)


def is_bio_tag(tag: str) -> bool:
    try:
        split_tag(tag)
    except ValueError:
        return False
    return True


def tag_names(types: Sequence[str]) -> list[str]:
    """The class names of a tag set: `O`, then `B-X`, `I-X` for each type in sorted order."""
    names = [OUTSIDE]
    for kind in sorted(set(types)):
        names += [f"B-{kind}", f"I-{kind}"]
    return names


def entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """`(type, start, end)` of each entity (end exclusive), conlleval-style."""
    found = []
    kind, start = None, 0
    for i, tag in enumerate(list(tags) + [OUTSIDE]):
        prefix, tag_kind = split_tag(tag) if is_bio_tag(tag) else (OUTSIDE, None)
        continues = prefix == "I" and tag_kind == kind
        if kind is not None and not continues:
            found.append((kind, start, i))
            kind = None
        if prefix in ("B", "I") and not continues:
            kind, start = tag_kind, i
    return found


def entity_scores(true: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Micro precision, recall and F1 over all sentences, plus counts and per-type scores.

    Precision is 0 when nothing is predicted and recall 0 when nothing is true (seqeval's
    `zero_division=0`), so a model that tags everything `O` scores F1 = 0.
    """
    if len(true) != len(pred):
        raise ValueError(f"{len(true)} true sentences but {len(pred)} predicted")
    n_true, n_pred, n_correct = Counter(), Counter(), Counter()
    for i, (t, p) in enumerate(zip(true, pred)):
        if len(t) != len(p):
            raise ValueError(f"sentence {i}: {len(t)} true tags but {len(p)} predicted")
        t_ents, p_ents = set(entities(t)), set(entities(p))
        n_true.update(e[0] for e in t_ents)
        n_pred.update(e[0] for e in p_ents)
        n_correct.update(e[0] for e in t_ents & p_ents)

    def prf(c, p, t):
        precision = c / p if p else 0.0
        recall = c / t if t else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    precision, recall, f1 = prf(sum(n_correct.values()), sum(n_pred.values()), sum(n_true.values()))
    per_type = {}
    for kind in sorted(set(n_true) | set(n_pred)):
        p_, r_, f_ = prf(n_correct[kind], n_pred[kind], n_true[kind])
        per_type[kind] = {"precision": p_, "recall": r_, "f1": f_, "support": n_true[kind]}
    return {"precision": precision, "recall": recall, "f1": f1, "true_entities": sum(n_true.values()),
            "predicted_entities": sum(n_pred.values()), "correct_entities": sum(n_correct.values()),
            "per_type": per_type}


def word_tags(labels: np.ndarray, scores: np.ndarray, class_names: Sequence[str]) -> tuple[list, list]:
    """Per-position labels (N, T) with -1 for ignored positions and scores (N, T, C) -> word tag lists.

    Only positions with a label (the first word piece of each word) count, in order.
    """
    true, pred = [], []
    predicted = np.asarray(scores).argmax(-1)
    for row_labels, row_pred in zip(np.asarray(labels), predicted):
        keep = row_labels >= 0
        true.append([class_names[int(i)] for i in row_labels[keep]])
        pred.append([class_names[int(i)] for i in row_pred[keep]])
    return true, pred


def majority_tag_scores(train_labels: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> dict:
    """Entity scores of the baseline that predicts the most frequent training tag everywhere."""
    counts = np.bincount(train_labels[train_labels >= 0].astype(int), minlength=len(class_names))
    majority = int(counts.argmax())
    scores = np.zeros(labels.shape + (len(class_names),), "float32")
    scores[..., majority] = 1.0
    true, pred = word_tags(labels, scores, class_names)
    return entity_scores(true, pred)
