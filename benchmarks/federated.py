"""Federated fine-tuning (`zoo federate`) against pooling the data and against each site alone.

The medical-ct demo hospitals (`--demo-sites 3`: their own patients, their own scanners) train
one model three ways, with the plugin's default recipe and at most the same number of passes over
each site's data (each arm keeps its best epoch or round by validation and stops early as the recipe's
patience says):

- federated: `zoo federate`, FedAvg, up to `epochs` rounds of one local epoch, in Flower's simulation engine;
- centralised: `zoo finetune` on the three sites' cohorts pooled into one labels file;
- site-local: `zoo finetune` on each site's cohort alone.

All of them are scored on one common test set that no site trains on: new patients from the
three scanners (`test_patients` per scanner), every slice. Rows: federated AUC / centralised AUC
(goal >= 0.95), federated AUC / mean site-local AUC (goal > 1), the wall time per round on
loopback, and the bytes one site sends per round under full fine-tuning, LoRA and a linear probe
(medical-ct and tabular-fraud).

Usage: `python benchmarks/federated.py [--small] [--json out.json]`.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

from _common import report, run_cli, summary

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pooled_labels(folder: Path, label_files: list[Path]) -> Path:
    """One slice-level labels file over several cohorts (paths made relative to `folder`)."""
    rows, fields = [], None
    for labels in label_files:
        with open(labels, newline="") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames
            for row in reader:
                row["path"] = os.path.relpath(labels.parent / row["path"], folder)
                rows.append(row)
    out = folder / "labels.csv"
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return out


def common_test_set(folder: Path, patients: int) -> Path:
    """New patients (in no site's cohort) from each site scanner, pooled."""
    import json

    from zoo_medical_ct import demo

    files = []
    for i, scanner in enumerate(demo.SITE_SCANNERS[:3]):
        sub = folder / f"scanner{i + 1}"
        sub.mkdir(parents=True)
        summary_ = demo.write_cohort(sub, patients, first=3_000_000 + i * demo.SITE_STRIDE, prefix=f"CT-TEST{i + 1}",
                                     scanner=scanner)
        (sub / "cohort.json").write_text(json.dumps(summary_) + "\n")
        files.append(sub / "labels.csv")
    return pooled_labels(folder, files)


def auc_on(run: Path, plugin, labels: Path) -> float:
    """Slice-level AUC of a run's model on every slice of `labels` (all splits of that cohort)."""
    from zoo.evaluation import load_run
    from zoo.training.finetune import evaluate_model, load_data

    meta, model = load_run(run)
    recipe = plugin.resolve_recipe(base=meta["recipe"])
    bundle = load_data(plugin, recipe, str(labels))
    everything = bundle.train.concatenate(bundle.validation).concatenate(bundle.test)
    metrics, _, _ = evaluate_model(model, plugin.task, recipe, everything)
    return float(metrics["auc"])


def bytes_per_round(name: str, overrides: dict) -> dict[str, int]:
    """Bytes of the weights one site sends per round, by strategy (FedAvg, no differential privacy)."""
    from zoo import registry
    from zoo.training.federated import moving_statistics, travelling
    from zoo.training.finetune import assemble, load_data

    plugin = registry.get_plugin(name)
    out = {}
    for strategy in ("full", "lora", "linear-probe"):
        recipe = plugin.resolve_recipe(overrides={**overrides, "strategy": strategy})
        bundle = load_data(plugin, recipe, None)
        model = assemble(plugin, recipe, bundle, None).model
        weights = model.weights
        out[strategy] = int(sum(weights[i].numpy().nbytes
                                for i in travelling(model, "fedavg", moving_statistics(recipe, False))))
    return out


def main(epochs: int = 15, patients: int = 240, test_patients: int = 40) -> dict:
    import keras

    from zoo import registry
    from zoo.training.federated import Federation, federate, parse_sites, plugin_demo_sites
    from zoo.training.finetune import finetune

    rows = []
    plugin = registry.get_plugin("medical-ct")
    overrides = {"epochs": epochs, "options": {"demo_patients": patients}}
    recipe = plugin.resolve_recipe(overrides=overrides)
    sites = plugin_demo_sites(plugin, recipe, parse_sites((), demo_sites=3))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        test = common_test_set(tmp / "test", test_patients)
        (tmp / "sites").mkdir()
        pooled = pooled_labels(tmp / "sites", [Path(s.data) for s in sites])
        runs = tmp / "runs"

        keras.utils.set_random_seed(recipe.seed)
        fed = federate(plugin, recipe, Federation(list(sites), rounds=epochs), runs_dir=runs)
        fed_auc = auc_on(fed.path, plugin, test)
        central = finetune(plugin, recipe, data=str(pooled), runs_dir=runs, verbose=0)
        central_auc = auc_on(central.path, plugin, test)
        local = []
        for site in sites:
            result = finetune(plugin, recipe, data=site.data, runs_dir=runs, verbose=0)
            local.append(auc_on(result.path, plugin, test))
        per_round = fed.timings["train"] / fed.epochs_run
        best = json.loads((fed.path / "zoo.json").read_text())["federated"].get("best_round") or {}
        schedule = (f"FedAvg up to {epochs} rounds x 1 local epoch ({fed.epochs_run} run, round "
                    f"{best.get('round', fed.epochs_run)} kept)")
        pooled_run = f"{central.epochs_run} run, the best kept"
    mean_local = sum(local) / len(local)
    described = (f"{len(sites)} demo hospitals ({'; '.join(s.description for s in sites)}); slice AUC on "
                 f"{3 * test_patients} new patients, every slice")
    rows.append(report("federated[medical-ct] vs centralised",
                       f"test AUC, {schedule} ({fed_auc:.3f}) / zoo finetune on the pooled sites, up to "
                       f"{epochs} epochs ({pooled_run}; {central_auc:.3f}); {described}",
                       summary([fed_auc / central_auc]), ">= 0.95", fed_auc / central_auc >= 0.95,
                       {"federated_auc": fed_auc, "centralised_auc": central_auc}))
    rows.append(report("federated[medical-ct] vs site-local",
                       f"test AUC, federated ({fed_auc:.3f}) / mean of each site alone "
                       f"({', '.join(f'{a:.3f}' for a in local)}), same test set",
                       summary([fed_auc / mean_local]), "> 1", fed_auc / mean_local > 1,
                       {"site_local_auc": local}))
    rows.append(report("federated[medical-ct] wall time per round",
                       f"seconds per round, 3 sites on one machine's loopback (Flower simulation, Ray; "
                       f"{os.cpu_count()} cores shared), training and evaluation",
                       summary([per_round]), "reported", None))
    for name, extra in (("medical-ct", {"options": {"demo_patients": patients}}),
                        ("tabular-fraud", {"max_samples": 400})):
        sent = bytes_per_round(name, extra)
        for strategy in ("lora", "linear-probe"):
            rows.append(report(f"federated[{name}] bytes {strategy} / full",
                               f"bytes one site sends per round: {strategy} {sent[strategy]:,} / full "
                               f"{sent['full']:,}", summary([sent[strategy] / sent["full"]]), "reported", None))
    return {"rows": rows}


if __name__ == "__main__":
    run_cli(main, {"epochs": 2, "patients": 24, "test_patients": 4})
