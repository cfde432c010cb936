"""`zoo federate`: the toy plugin's sites in Flower's simulation engine (Ray), end to end.

Each site is an `.npz` of its own (site b's images darker and shifted, as a second scanner
would give); the coordinator holds its own held-out file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from zoo_cli_helpers import toy_sites, zoo
from zoo_toy import make_arrays

pytest.importorskip("flwr")
pytest.importorskip("ray")


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    return toy_sites(tmp_path_factory.mktemp("sites"))


def federate(toy_target, sites, runs, *extra):
    out = zoo("federate", "--plugin", "toy", "--site", f"a={sites / 'a.npz'}", "--site", f"b={sites / 'b.npz'}",
              "--data", str(sites / "hold.npz"), "--runs-dir", str(runs), *extra, path=toy_target, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run, json.loads((run / "zoo.json").read_text())


def test_fedavg_run_is_an_ordinary_run_that_exports(toy_target, sites, tmp_path):
    run, meta = federate(toy_target, sites, tmp_path / "runs", "--rounds", "3", "--local-epochs", "3",
                         "--strategy", "full", "--batchnorm", "train")
    fed = meta["federated"]
    assert meta["status"] == "complete" and fed["aggregation"] == "fedavg" and fed["rounds"] == 3
    assert [s["name"] for s in fed["sites"]] == ["a", "b"]
    assert fed["samples_per_site"]["a"]["train"] > 0 and fed["samples_per_site"]["b"]["train"] > 0
    # every round: both sites trained and evaluated; what came back is the travelling weights, twice
    assert [r["round"] for r in fed["rounds_log"]] == [1, 2, 3]
    payload = fed["travelling"]["bytes"]
    for entry in fed["rounds_log"]:
        assert sorted(entry["train"]["sites"]) == ["a", "b"] and entry["train"]["failed"] == 0
        assert 2 * payload <= entry["train"]["bytes_up"] <= 2 * payload + 2 * 256 * fed["travelling"]["weights"]
    # batch norm trains here: its scale, shift and statistics travel with the convolutions and the head
    assert fed["travelling"]["weights"] == 3 + 3 * 4 + 2
    rows = (run / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 3 and "val_accuracy" in rows[0]
    assert meta["metrics"]["test"]["accuracy"] > 0.6  # 3 classes: chance is 0.33
    out = zoo("evaluate", str(run), "--data", str(sites / "hold.npz"), path=toy_target)
    assert out.returncode == 0, out.stderr
    out = zoo("export", str(run), "--format", "onnx", path=toy_target, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (run / "exports" / "model.onnx").is_file()


def test_fedbn_keeps_batch_norm_at_each_site(toy_target, sites, tmp_path):
    import keras

    run, meta = federate(toy_target, sites, tmp_path / "runs", "--rounds", "2", "--strategy", "full",
                         "--batchnorm", "train", "--aggregation", "fedbn")
    fed = meta["federated"]
    assert fed["travelling"]["weights"] == 3 + 2  # the convolutions and the head; no batch norm
    local = {}
    for name in ("a", "b"):
        with np.load(run / "sites" / name / "batchnorm.weights.npz") as data:
            local[name] = [data[k] for k in sorted(data.files, key=lambda k: int(k[1:]))]
    assert len(local["a"]) == 3 * 4
    # the two scanners' statistics differ (b's images are darker and shifted) ...
    means_a, means_b = local["a"][2], local["b"][2]  # bn1's moving mean at each site
    assert np.abs(means_a - means_b).max() > 1e-3
    # ... and the coordinator's model never received them: its batch norm is still where it started
    model = keras.saving.load_model(run / "model.keras", compile=False)
    bn1 = model.get_layer("toy_cnn").get_layer("bn1")
    np.testing.assert_array_equal(bn1.moving_mean.numpy(), np.zeros_like(means_a))
    assert np.abs(means_a).max() > 1e-3


def test_fedprox_with_differential_privacy_is_recorded(toy_target, sites, tmp_path):
    run, meta = federate(toy_target, sites, tmp_path / "runs", "--rounds", "2", "--aggregation", "fedprox",
                         "--mu", "0.1", "--dp-noise", "0.5", "--dp-clip", "2.0")
    fed = meta["federated"]
    assert fed["aggregation"] == "fedprox" and fed["mu"] == 0.1
    dp = fed["differential_privacy"]
    assert dp["noise_multiplier"] == 0.5 and dp["clipping_norm"] == 2.0
    # the default strategy is a linear probe: only the head travels
    assert fed["travelling"]["weights"] == 2 and fed["travelling"]["parameters"] == 16 * 3 + 3
    assert "differential privacy" in (run / "MODEL_CARD.md").read_text().lower()


@pytest.mark.parametrize("args, message", [
    (["--site", "a=A"], "at least 2 sites"),
    (["--site", "a=A", "--site", "a=B"], "'a' is given twice"),
    (["--site", "a", "--site", "b=B"], "must look like NAME=DATA"),
    (["--demo-sites", "2", "--site", "a=A"], "not both"),
    (["--demo-sites", "2", "--dp-noise", "1"], "needs both --dp-noise"),
    (["--demo-sites", "2", "--min-sites", "3"], "--min-sites must be between 1 and the 2 sites"),
    (["--demo-sites", "2", "--min-sites", "1", "--secure-aggregation"], "needs --min-sites of at least 2"),
    (["--resume", "RUN", "--secure-aggregation"], ", --secure-aggregation (only --rounds may change"),
    (["--demo-sites", "2", "--quantize-aware-epochs", "1"], "a federation trains at its sites; drop it"),
])
def test_bad_federations_are_refused_before_anything_runs(toy_target, tmp_path, args, message):
    out = zoo("federate", "--plugin", "toy", "--runs-dir", str(tmp_path / "runs"), *args, path=toy_target)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and out.stderr.count("\n") <= 2
    assert not (tmp_path / "runs").exists()


def test_a_site_without_a_class_or_without_data_is_named(toy_target, sites, tmp_path):
    x, y = make_arrays(90, 3)
    keep = y != 2
    np.savez(tmp_path / "c.npz", x=x[keep], y=y[keep])
    out = zoo("federate", "--plugin", "toy", "--site", f"a={sites / 'a.npz'}", "--site", f"c={tmp_path / 'c.npz'}",
              "--runs-dir", str(tmp_path / "runs"), path=toy_target)
    assert out.returncode == 2, out.stderr
    assert "site 'c' has no training samples of class 'blue'" in out.stderr
    out = zoo("federate", "--plugin", "toy", "--site", f"a={sites / 'a.npz'}", "--site",
              f"gone={tmp_path / 'missing.npz'}", "--runs-dir", str(tmp_path / "runs"), path=toy_target)
    assert out.returncode == 2, out.stderr
    assert "site 'gone'" in out.stderr and "missing.npz" in out.stderr
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- faults: a site killed, a coordinator killed

def _start(toy_target, sites, runs, *extra):
    """`zoo federate` on sites a, b (and c, a third scanner) as a process of its own session."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(toy_target), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-m", "zoo.cli", "federate", "--plugin", "toy",
                             "--site", f"a={sites / 'a.npz'}", "--site", f"b={sites / 'b.npz'}",
                             "--site", f"c={sites / 'c.npz'}", "--data", str(sites / "hold.npz"),
                             "--runs-dir", str(runs), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def _processes(session: int | None = None, title: str = "") -> list[int]:
    """Process ids whose command line starts with `title` (Ray names a worker after the task it runs), in `session`."""
    import os
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if cmdline.startswith(title) and (session is None or os.getsid(int(entry.name)) == session):
                found.append(int(entry.name))
        except (OSError, ProcessLookupError):
            continue
    return found


def _aggregated(runs) -> int:
    for run in runs.glob("*/zoo.json"):
        try:
            return int(json.loads(run.read_text())["federated"].get("aggregated_rounds", 0))
        except (ValueError, KeyError):
            return 0
    return 0


def _wait(condition, proc, timeout=600):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture(scope="module")
def third_site(sites):
    x, y = make_arrays(120, 5)
    np.savez(sites / "c.npz", x=(x * 1.2 - 20).clip(0, 255), y=y)
    return sites


def test_a_site_killed_mid_round_does_not_stop_the_federation(toy_target, third_site, tmp_path):
    import os
    import signal

    runs = tmp_path / "runs"
    proc = _start(toy_target, third_site, runs, "--rounds", "4", "--local-epochs", "4", "--min-sites", "2")
    # once round 1 is aggregated: a site process in the middle of its work is killed outright
    victims = _wait(lambda: _aggregated(runs) >= 1 and _processes(proc.pid, "ray::ClientAppActor.run"), proc)
    os.kill(victims[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    (run,) = runs.iterdir()
    fed = json.loads((run / "zoo.json").read_text())["federated"]
    assert [r["round"] for r in fed["rounds_log"]] == [1, 2, 3, 4] and fed["aggregated_rounds"] == 4
    assert sorted(fed["rounds_log"][0]["train"]["sites"]) == ["a", "b", "c"]  # all three before the kill
    entries = [r[part] for r in fed["rounds_log"] for part in ("train", "evaluate")]
    hit = [entry for entry in entries if entry["retried"] or entry["failed"]]
    assert hit, fed["rounds_log"]  # the kill cost an attempt: the site that lost its process is named ...
    assert all(set(entry["retried"] + entry["failed_sites"]) <= {"a", "b", "c"} for entry in hit), hit
    # ... was asked again in the same round, or that round went on with the two sites that remained
    assert all(len(entry["failed_sites"]) == entry["failed"] <= 1 and len(entry["sites"]) + entry["failed"] == 3
               for entry in entries), fed["rounds_log"]
    # the killed site's process was started again and the site rejoined: the last round had all three
    assert sorted(fed["rounds_log"][-1]["train"]["sites"]) == ["a", "b", "c"]


def test_a_killed_federation_resumes_from_its_last_aggregated_round(toy_target, third_site, tmp_path):
    import os
    import signal

    runs = tmp_path / "runs"
    proc = _start(toy_target, third_site, runs, "--rounds", "3", "--local-epochs", "2", "--strategy", "full")
    _wait(lambda: _aggregated(runs) >= 1, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and every site with it, as a machine going down
    proc.wait()
    for pid in _processes(proc.pid):
        os.kill(pid, signal.SIGKILL)
    (run,) = runs.iterdir()
    meta = json.loads((run / "zoo.json").read_text())
    done = meta["federated"]["aggregated_rounds"]
    assert meta["status"] == "running" and 1 <= done <= 3 and (run / "checkpoints" / "federation.npz").is_file()
    if done == 3:
        pytest.skip("the federation finished before it was killed")
    out = zoo("federate", "--resume", str(run), "--site", "x=y", path=toy_target)
    assert out.returncode == 2 and "drop --site" in out.stderr
    out = zoo("federate", "--resume", str(run), path=toy_target, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    meta = json.loads((run / "zoo.json").read_text())
    fed = meta["federated"]
    assert meta["status"] == "complete" and fed["aggregated_rounds"] == 3
    assert fed["resumed"][0]["from_round"] == done
    assert [r["round"] for r in fed["rounds_log"]] == [1, 2, 3]  # the rounds before the kill, then the rest
    assert len((run / "history.csv").read_text().strip().splitlines()) == 1 + 3
    assert meta["metrics"]["test"]["accuracy"] > 0.6
    out = zoo("federate", "--resume", str(run), path=toy_target)
    assert out.returncode == 2 and "finished all 3 rounds" in out.stderr


def _travelled(run) -> dict:
    with np.load(run / "checkpoints" / "federation.npz") as saved:
        return {k: saved[k] for k in saved.files if k != "state"}


def test_secure_aggregation_unmasks_the_mean_of_the_sites_updates(toy_target, third_site, tmp_path):
    args = ["--site", f"c={third_site / 'c.npz'}", "--rounds", "1", "--local-epochs", "2", "--strategy", "full"]
    plain, _ = federate(toy_target, third_site, tmp_path / "plain", *args)
    secure, meta = federate(toy_target, third_site, tmp_path / "secure", *args, "--secure-aggregation")
    fed = meta["federated"]
    assert fed["secure_aggregation"]["reconstruction_threshold"] == 3  # --min-sites: all three
    payload = fed["travelling"]["bytes"]
    for entry in fed["rounds_log"]:
        train = entry["train"]
        assert train["secure_aggregation"] == {"stages": 4, "sites_masked": 3}
        assert sorted(train["sites"]) == ["a", "b", "c"] and train["failed"] == 0
        # what came up is the protocol's keys, shares and masked updates, not the three sites' weights
        assert train["bytes_up"] > 3 * payload
    # the sites train the same way in both runs (same seeds): the unmasked mean is the plain FedAvg mean, up
    # to SecAgg+'s quantisation (a step of 16 / 2**22 = 3.8e-6 in each site's weighted update)
    a, b = _travelled(plain), _travelled(secure)
    assert a and sorted(a) == sorted(b)
    gap = max(float(np.abs(a[k] - b[k]).max()) for k in a)
    assert gap < 2e-5, gap
    # one more secure round moves the weights far more than that gap
    out = zoo("federate", "--resume", str(secure), "--rounds", "2", path=toy_target, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    c = _travelled(secure)
    step = max(float(np.abs(c[k] - b[k]).max()) for k in b)
    assert step > 100 * gap, (step, gap)
    fed = json.loads((secure / "zoo.json").read_text())["federated"]
    assert [r["train"]["secure_aggregation"]["sites_masked"] for r in fed["rounds_log"]] == [3, 3]
    assert "secure aggregation" in (secure / "MODEL_CARD.md").read_text().lower()


def test_a_site_killed_in_a_secure_round_is_unmasked_without_it(toy_target, third_site, tmp_path):
    import os
    import signal

    runs = tmp_path / "runs"
    proc = _start(toy_target, third_site, runs, "--rounds", "4", "--local-epochs", "4", "--min-sites", "2",
                  "--strategy", "full", "--secure-aggregation")
    victims = _wait(lambda: _aggregated(runs) >= 1 and _processes(proc.pid, "ray::ClientAppActor.run"), proc)
    os.kill(victims[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    (run,) = runs.iterdir()
    meta = json.loads((run / "zoo.json").read_text())
    fed = meta["federated"]
    assert fed["secure_aggregation"]["reconstruction_threshold"] == 2 and fed["aggregated_rounds"] == 4
    trains = [r["train"] for r in fed["rounds_log"]]
    assert trains[0]["secure_aggregation"]["sites_masked"] == 3
    # every round unmasked a sum: the sites that answered every stage, at least --min-sites of them
    assert all(t["secure_aggregation"]["sites_masked"] == len(t["sites"]) >= 2 for t in trains), trains
    assert all(len(t["sites"]) + t["failed"] == 3 and len(t["failed_sites"]) == t["failed"] for t in trains), trains
    evaluates = [r["evaluate"] for r in fed["rounds_log"]]
    # the kill cost an attempt: a site asked again within a stage of SecAgg+ (or in an evaluation), or a site
    # that dropped out of a training round, its masks removed with the others' key shares
    assert any(t["failed"] or t["retried"] for t in trains) or any(e["failed"] or e["retried"] for e in evaluates), \
        fed["rounds_log"]
    assert all(set(t["retried"] + t["failed_sites"]) <= {"a", "b", "c"} for t in trains), trains
    assert meta["status"] == "complete" and meta["metrics"]["test"]["accuracy"] > 0.6


def test_the_best_round_is_kept_and_early_stopping_ends_the_federation(toy_target, sites, tmp_path):
    import csv

    import keras

    run, meta = federate(toy_target, sites, tmp_path / "runs", "--rounds", "12", "--strategy", "full",
                         "--patience", "2", "--learning-rate", "0.1")
    fed = meta["federated"]
    assert fed["keeps_best_round"] == {"monitor": "val_accuracy", "mode": "max", "patience": 2, "min_rounds": 0}
    with open(run / "history.csv", newline="") as fh:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]
    done = fed["aggregated_rounds"]
    assert len(rows) == done == len(fed["rounds_log"])
    # the kept round is the best of the sites' validation accuracy (a tie goes to the lower validation loss)
    top = max(r["val_accuracy"] for r in rows)
    kept = min((r for r in rows if r["val_accuracy"] == top), key=lambda r: (r["val_loss"], r["epoch"]))
    best = fed["best_round"]
    assert best["round"] == int(kept["epoch"]) + 1 and best["value"] == pytest.approx(top)
    # early stopping: the federation ended `patience` rounds after the monitor last improved, short of the 12
    first = next(int(r["epoch"]) + 1 for r in rows if r["val_accuracy"] == top)
    assert done < 12 and done - first == 2, (done, first, rows)
    assert meta["stopped_by"].startswith(f"early stopping on the sites' val_accuracy (patience 2 rounds) after {done}")
    # model.keras is the kept round's global model, not the last round's
    model = keras.saving.load_model(run / "model.keras", compile=False)
    with np.load(run / "checkpoints" / "best.federation.npz") as kept_w, \
            np.load(run / "checkpoints" / "federation.npz") as last_w:
        names = [k for k in kept_w.files]
        assert names and all(np.array_equal(model.weights[int(k[1:])].numpy(), kept_w[k]) for k in names)
        assert best["round"] < done and any(not np.array_equal(kept_w[k], last_w[k]) for k in names)
    assert f"after round {best['round']} of the {done} aggregated" in (run / "MODEL_CARD.md").read_text()
    out = zoo("federate", "--resume", str(run), path=toy_target)
    assert out.returncode == 2 and f"early stopping ended it after {done} of 12 rounds" in out.stderr


def test_secure_aggregation_composes_with_fedprox_and_differential_privacy(toy_target, third_site, tmp_path):
    # a site clips its update (differential privacy) before SecAgg+ masks it; the noise goes on the unmasked mean
    run, meta = federate(toy_target, third_site, tmp_path / "runs", "--site", f"c={third_site / 'c.npz'}",
                         "--rounds", "2", "--aggregation", "fedprox", "--dp-noise", "0.5", "--dp-clip", "2.0",
                         "--secure-aggregation")
    fed = meta["federated"]
    assert fed["differential_privacy"]["clipping_norm"] == 2.0 and fed["secure_aggregation"]
    assert [r["train"]["secure_aggregation"]["sites_masked"] for r in fed["rounds_log"]] == [3, 3]
    card = (run / "MODEL_CARD.md").read_text()
    assert "Differential privacy: client-side fixed clipping" in card and "Secure aggregation: SecAgg+" in card
