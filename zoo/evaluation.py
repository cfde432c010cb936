"""`zoo evaluate`: metrics of a finished run on its test split or on new data."""

from __future__ import annotations

from pathlib import Path

from zoo import registry
from zoo.loading import load_run
from zoo.training import rundir


def evaluate_run(run: str | Path, data: str | None = None) -> tuple[dict[str, float], str]:
    """Evaluate `run` on `data` (its test split) or on its own test split; save `evaluation.json`."""
    from zoo.training.finetune import check_labels, evaluate_model, labels_of, load_data

    run = Path(run)
    meta, model = load_run(run)
    plugin = registry.get_plugin(meta["plugin"])
    recipe = plugin.resolve_recipe(base=meta["recipe"])
    source = data if data is not None else meta.get("data")
    bundle = load_data(plugin, recipe, source)
    split, dataset = ("test", bundle.test) if bundle.test is not None else ("validation", bundle.validation)
    check_labels(labels_of(dataset), plugin.task, meta["class_names"], split)
    metrics, _, _ = evaluate_model(model, plugin.task, recipe, dataset)
    rundir.write_json(run / "evaluation.json", {"data": source, "split": split, "metrics": metrics})
    from zoo.report_html import refresh_report

    refresh_report(run)
    return metrics, split
