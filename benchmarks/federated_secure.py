"""Secure aggregation (`zoo federate --secure-aggregation`, Flower's SecAgg+) against plain FedAvg.

The tabular-fraud demo banks (`--demo-sites 3`: their own customers, fraud rates 0.5%, 1.5%, 4%)
federate with the plugin's default recipe, plain and secure in alternating pairs (plain, secure,
secure, plain, ...), the same seeds every time, so the two differ only by the protocol. Rows:

- model: the largest difference between a secure run's aggregated weights and a plain run's (SecAgg+
  quantises each site's weighted update to a step of 16 / 2**22 before masking), with the plain runs'
  difference among themselves beside it, and the test AUC change in points;
- bytes up per round, secure / plain: the protocol's public keys, encrypted key shares, masked
  updates and unmasking shares against the plain weights;
- wall time of the federation per round, secure / plain (Flower simulation on one machine; training,
  evaluation and the protocol's four stages per training round).

Usage: `python benchmarks/federated_secure.py [--small] [--json out.json]`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
from _common import ratio_summary, report, run_cli, summary

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def travelled(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "checkpoints" / "federation.npz") as saved:
        return {k: saved[k] for k in saved.files if k != "state"}


def gap(a: dict, b: dict) -> float:
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


def main(rounds: int = 5, pairs: int = 2, rows: int = 3000) -> dict:
    import keras

    from zoo import registry
    from zoo.training.federated import Federation, federate, parse_sites, plugin_demo_sites

    plugin = registry.get_plugin("tabular-fraud")
    recipe = plugin.resolve_recipe(overrides={"options": {"demo_rows": rows}})
    sites = plugin_demo_sites(plugin, recipe, parse_sites((), demo_sites=3))
    out: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        order = [flag for i in range(pairs) for flag in ((False, True) if i % 2 == 0 else (True, False))]
        for i, secure in enumerate(order):
            keras.utils.set_random_seed(recipe.seed)
            result = federate(plugin, recipe, Federation(list(sites), rounds=rounds, secure=secure),
                              runs_dir=Path(tmp) / f"run{i}")
            meta = json.loads((result.path / "zoo.json").read_text())
            log = meta["federated"]["rounds_log"]
            out[secure].append({"weights": travelled(result.path), "auc": float(meta["metrics"]["test"]["auc"]),
                                "per_round": result.timings["train"] / rounds,
                                "bytes_up": sum(r["train"]["bytes_up"] for r in log) / len(log),
                                "masked": [r["train"].get("secure_aggregation", {}).get("sites_masked") for r in log]})
    plain, secure = out[False], out[True]
    reference = plain[0]["weights"]
    gaps = [gap(reference, s["weights"]) for s in secure]
    among_plain = max(gap(reference, p["weights"]) for p in plain[1:]) if len(plain) > 1 else None
    beside = "one plain run" if among_plain is None else f"plain runs among themselves: {among_plain:.2e}"
    auc_change = [100 * (s["auc"] - p["auc"]) for s, p in zip(secure, plain)]
    sites_text = "; ".join(s.description for s in sites)
    result_rows = [
        report("federated_secure[tabular-fraud] weights gap",
               f"largest |secure - plain| over the aggregated weights after {rounds} FedAvg rounds, 3 demo banks "
               f"({sites_text}); {beside}",
               summary(gaps), "reported", None, {"among_plain": among_plain}),
        report("federated_secure[tabular-fraud] auc change",
               f"secure - plain test AUC in points (plain {plain[0]['auc']:.3f}), pair by pair",
               summary(auc_change), "reported", None),
        report("federated_secure[tabular-fraud] bytes up secure / plain",
               f"bytes the sites send per training round: secure {secure[0]['bytes_up']:,.0f} (SecAgg+'s 4 "
               f"stages; sites masked per round {secure[0]['masked']}) / plain {plain[0]['bytes_up']:,.0f}",
               ratio_summary([s["bytes_up"] for s in secure], [p["bytes_up"] for p in plain]), "reported", None),
        report("federated_secure[tabular-fraud] time per round secure / plain",
               f"wall seconds per round, secure {summary([s['per_round'] for s in secure])['median']:.1f} / "
               f"plain {summary([p['per_round'] for p in plain])['median']:.1f} (Flower simulation, 3 sites on "
               f"{os.cpu_count()} cores), alternating pairs",
               ratio_summary([s["per_round"] for s in secure], [p["per_round"] for p in plain]), "reported", None),
    ]
    return {"rows": result_rows}


if __name__ == "__main__":
    run_cli(main, {"rounds": 2, "pairs": 1, "rows": 1500})
