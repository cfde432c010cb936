"""`Plugin.analyze` for named-entity recognition: entity-level precision, recall and F1 of a run.

Called by the engine at the end of `zoo finetune` with the validation and test `(labels, scores)`;
the entity scores join the run's metrics (`entity_precision`, `entity_recall`, `entity_f1`, shown in
zoo.json and the model card) and the per-type breakdown is saved under `analysis` in zoo.json.

Example:

```python
result = analyze_ner("runs/text-ner-20260101-120000", recipe, options, (labels, scores), None)
result["metrics"]["validation"]["entity_f1"]
```
"""

from __future__ import annotations

from pathlib import Path

from zoo_text.entities import entity_scores, word_tags


def analyze_ner(run_dir, recipe, options, validation, test) -> dict:
    """Entity scores of the validation and test splits (`(labels, scores)` pairs; test may be None)."""
    from zoo.runs import read_run

    class_names = read_run(Path(run_dir), require_complete=False)["class_names"]
    metrics, details = {}, {}
    for split, pair in (("validation", validation), ("test", test)):
        if pair is None:
            continue
        labels, scores = pair
        true, pred = word_tags(labels, scores, class_names)
        scores_ = entity_scores(true, pred)
        metrics[split] = {"entity_precision": scores_["precision"], "entity_recall": scores_["recall"],
                          "entity_f1": scores_["f1"]}
        details[split] = scores_
    return {"metrics": metrics, "entity_scores": details}


def ner_report_sections(run_dir, meta) -> list:
    """`Plugin.report_sections` of `text-ner`: precision, recall and F1 per entity type and split."""
    from zoo.api import ReportSection

    details = (meta.get("analysis") or {}).get("entity_scores") or {}
    parts = []
    for split in ("validation", "test"):
        scores = details.get(split)
        if not scores:
            continue
        rows = [f"| **all** | {scores['precision']:.3f} | {scores['recall']:.3f} | {scores['f1']:.3f} | "
                f"{scores['true_entities']} |"]
        for kind, s in sorted(scores.get("per_type", {}).items(), key=lambda kv: -kv[1]["support"]):
            rows.append(f"| {kind} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |")
        parts.append(f"**{split}** ({scores['correct_entities']} of {scores['predicted_entities']} predicted "
                     "entities exactly right)\n\n| entity | precision | recall | F1 | true entities |\n"
                     "| --- | --- | --- | --- | --- |\n" + "\n".join(rows))
    if not parts:
        return []
    return [ReportSection("Per-entity scores", "An entity counts when its type and its exact word span match.\n\n"
                          + "\n\n".join(parts))]
