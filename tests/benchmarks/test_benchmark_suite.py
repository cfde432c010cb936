"""The benchmark suite's own machinery: the results page and the GPU script (run small on the CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import run_all  # noqa: E402


def test_rows_of_accepts_every_result_shape():
    row = {"benchmark": "b", "compared": "x / y", "ratio": {"median": 2.0, "min": 1.5, "max": 3.0, "n": 3},
           "goal": ">= 1", "passed": True}
    assert run_all.rows_of(row) == [row]
    assert run_all.rows_of({"rows": [row, row]}) == [row, row]
    assert run_all.rows_of([row]) == [row]
    unknown = run_all.rows_of({"something": 1})
    assert unknown[0]["benchmark"] == "?" and "something" in unknown[0]["compared"]
    assert run_all.fmt_ratio(row["ratio"]) == "2.000 (1.500-3.000, n=3)"


def test_every_row_of_the_committed_page_belongs_to_a_script():
    """`--only` keeps the other scripts' rows by the script a row name starts with: a row whose name
    maps to no script would be dropped by the next partial run."""
    for entry in run_all.results_from_page(BENCH / "RESULTS.md"):
        assert entry["script"] in run_all.SCRIPTS, entry["script"]
        assert "error" not in entry, (entry["script"], entry.get("error"))
    assert run_all.script_of("model_select[vision] time") == "model_select"


def test_gpu_section_reports_the_measured_file(tmp_path):
    results = {
        "date": "2026-01-02", "accelerator": "NVIDIA H200", "backend": "tensorflow",
        "machine": {"keras": "3.15.1", "python": "3.12.3"},
        "measured_matmul_flops": {"bfloat16": 7.5e14, "float32": 4e14},
        "models": {"resnet50": {
            "float32": {"samples_per_s": 1000.0, "batch": 256, "train_gflops_per_sample": 22.4,
                        "achieved_tflops": 22.4, "utilisation_of_measured_matmul": 0.056},
            "bfloat16": {"samples_per_s": 2500.0, "batch": 256, "train_gflops_per_sample": 22.4,
                         "achieved_tflops": 56.0, "utilisation_of_measured_matmul": 0.0747,
                         "mfu_datasheet": 0.0566},
            "speedup_bf16_over_fp32": 2.5}},
    }
    path = tmp_path / "gpu_results.json"
    path.write_text(json.dumps(results))
    text = "\n".join(run_all.gpu_section(path))
    assert "2026-01-02" in text and "NVIDIA H200" in text and "750 TFLOP/s" in text
    assert "| resnet50 (224 px) | 256 | 1000 | 2500 | 2.50x | 22.40 | 56 | 5.7% | 7.5% |" in text
    assert "has not been run" in "\n".join(run_all.gpu_section(tmp_path / "missing.json"))


@pytest.mark.slow
def test_gpu_script_runs_small_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, "gpu_bench.py", "--tiny", "--out", str(out)], cwd=BENCH, text=True,
                          capture_output=True, timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["tiny"] and results["backend"] == "tensorflow"
    for name in ("resnet50", "minilm_l6"):
        row = results["models"][name]
        assert row["float32"]["samples_per_s"] > 0 and row["bfloat16"]["samples_per_s"] > 0
        assert row["float32"]["train_gflops_per_sample"] > 0.1  # counted by TensorFlow's profiler
    probe = results["linear_probe"]
    assert probe["naive_warm_s"] > 0 and probe["cached_warm_s"] > 0 and probe["speedup_warm"] > 0
    assert results["measured_matmul_flops"]["float32"] > 1e8
    # the results page renders this run's file
    assert "| resnet50 (64 px) | 8 |" in "\n".join(run_all.gpu_section(out))


def test_only_one_script_on_a_fresh_clone_keeps_every_other_row_of_the_page(tmp_path):
    """`run_all.py --only NAME` without results.json rebuilds the other rows from the committed page."""
    import shutil

    copy = tmp_path / "benchmarks"
    shutil.copytree(BENCH, copy, ignore=shutil.ignore_patterns("results.json", "__pycache__"))
    before = [line for line in (copy / "RESULTS.md").read_text().splitlines() if line.startswith("| ")]
    (copy / "cli_startup.py").write_text(
        "import json, sys\n"
        "json.dump({'benchmark': 'cli_startup', 'compared': 'a / b', 'ratio': {'median': 0.04, 'min': 0.03, "
        "'max': 0.05, 'n': 3}, 'goal': '<= 0.2', 'passed': True}, open(sys.argv[sys.argv.index('--json') + 1], 'w'))\n")
    proc = subprocess.run([sys.executable, "run_all.py", "--only", "cli_startup"], cwd=copy, text=True,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = [line for line in (copy / "RESULTS.md").read_text().splitlines() if line.startswith("| ")]
    assert "| cli_startup | a / b | 0.040 (0.030-0.050, n=3) | <= 0.2 | pass |" in after
    kept = [line for line in before if not line.startswith("| cli_startup ")]
    assert all(line in after for line in kept), set(kept) - set(after)
    assert len(after) == len(before)


def test_merge_puts_a_partial_rerun_into_the_page_and_keeps_every_other_row(tmp_path):
    """`run_all.py --merge SCRIPT JSON --command CMD`: rows of the same name replaced, the others kept."""
    import shutil

    copy = tmp_path / "benchmarks"
    shutil.copytree(BENCH, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = [line for line in (copy / "RESULTS.md").read_text().splitlines() if line.startswith("| ")]
    name = next(line.split(" | ")[0][2:] for line in before if line.startswith("| int8["))
    part = tmp_path / "part.json"
    part.write_text(json.dumps({"rows": [{"benchmark": name, "compared": "rerun", "ratio": {
        "median": 0.5, "min": 0.5, "max": 0.5, "n": 1}, "goal": ">= 0.99", "passed": False}]}))
    proc = subprocess.run([sys.executable, "run_all.py", "--merge", "int8", str(part), "--command",
                           "python benchmarks/int8.py --cases x"], cwd=copy, text=True, capture_output=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (copy / "RESULTS.md").read_text()
    after = [line for line in page.splitlines() if line.startswith("| ")]
    assert f"| {name} | rerun | 0.500 (n=1) | >= 0.99 | falls short |" in after
    assert len(after) == len(before)
    assert all(line in after for line in before if not line.startswith(f"| {name} |"))
    assert f"the {name} row " in page and "(`python benchmarks/int8.py --cases x`)." in page
    missing = subprocess.run([sys.executable, "run_all.py", "--merge", "int8", str(part)], cwd=copy, text=True,
                             capture_output=True, timeout=120)
    assert missing.returncode == 2 and "--command" in missing.stderr


def test_int8_rows_name_their_script_and_say_which_scheme_passed_or_that_none_did():
    import int8

    passed = {"case": "vision", "fallback_error": None, "scheme": "int8 with some operations in float", "float_ops": 3,
              "full_int8_agreement_validation": 0.91, "validation_agreement": 0.99, "agreement": 0.995,
              "agreement_kind": "top-1", "rows": 200, "monitor": "accuracy", "keras_metric": 0.9, "int8_metric": 0.895,
              "size_ratio": 0.31, "latency_ratios": [0.5, 0.6], "validation_estimated": 0.985, "validation_rows": 45,
              "fresh": {"rows": 300, "first_index": 60, "agreement": 0.96, "estimated_on_them": 0.963}}
    short = dict(passed, case="tabular-fraud", fresh=None, validation_estimated=None, fallback_error="no scheme", scheme="full-integer int8", float_ops=0,
                 full_int8_agreement_validation=None, validation_agreement=0.67, agreement=0.70, size_ratio=0.4)
    gated = dict(passed, case="vision-probe", fallback_error="no scheme", scheme="int8 weights, float compute",
                 float_ops=0, default_gate=0.95, full_int8_agreement_validation=0.778, validation_agreement=0.956)
    rows = {r["benchmark"]: r for r in int8.rows([passed, short, gated])}
    assert all(run_all.script_of(name) == "int8" for name in rows)
    ok = rows["int8[vision] agreement"]
    assert ok["passed"] is True and "3 ops in float" in ok["compared"] and "0.910" in ok["compared"]
    assert "this one 0.990 on validation, 0.985 estimated" in ok["compared"]
    fresh = rows["int8[vision] agreement, fresh images"]  # more held-out rows than the 45 of the test split
    assert fresh["passed"] is False and fresh["ratio"]["median"] == pytest.approx(0.96)
    assert "300 demo images the run never read (index 60 on" in fresh["compared"]
    assert "the 45 validation rows gave 0.990, estimated 0.985" in fresh["compared"]
    assert not any(name.startswith("int8[tabular-fraud] agreement, fresh") for name in rows)
    assert rows["int8[vision] accuracy change"]["ratio"]["median"] == pytest.approx(-0.5)
    assert rows["int8[vision] accuracy change"]["passed"] is True
    bad = rows["int8[tabular-fraud] agreement"]
    assert bad["passed"] is False and "no scheme reached 0.99" in bad["compared"] and "0.670" in bad["compared"]
    assert rows["int8[tabular-fraud] size"]["passed"] is False
    probe = rows["int8[vision-probe] agreement"]["compared"]  # refused at 0.99, measured at the tool's own gate
    assert "int8 weights, float compute, exported at the default gate of 0.95" in probe
    assert "this one 0.956, full int8 0.778" in probe


def test_int8_quantize_aware_rows_compare_the_run_before_and_after_its_quantisation_aware_epochs():
    import int8

    meta = {"quantize_aware": {"epochs": 1, "layers": 53, "kernels_trained": 1,
                               "validation_before": {"accuracy": 0.9}, "test_before": {"accuracy": 0.88}},
            "metrics": {"validation": {"accuracy": 0.91}, "test": {"accuracy": 0.86}}}
    cost = int8.quantize_aware_cost(meta, "accuracy")
    assert cost["split"] == "test" and (cost["before"], cost["after"]) == (0.88, 0.86)
    assert int8.quantize_aware_cost({"metrics": meta["metrics"]}, "accuracy") is None
    no_test = {**meta, "quantize_aware": {**meta["quantize_aware"], "test_before": None}}
    assert int8.quantize_aware_cost(no_test, "accuracy")["split"] == "validation"
    result = {"case": "vision-qat", "fallback_error": None, "scheme": "int8 weights, float compute", "float_ops": 0,
              "full_int8_agreement_validation": 0.97, "validation_agreement": 1.0, "agreement": 1.0,
              "agreement_kind": "top-1", "rows": 45, "monitor": "accuracy", "keras_metric": 0.86, "int8_metric": 0.86,
              "size_ratio": 0.3, "latency_ratios": [1.0], "validation_estimated": 1.0, "validation_rows": 45,
              "fresh": None, "quantize_aware": cost, "estimate_gate": 0.99}
    rows = {r["benchmark"]: r for r in int8.rows([result])}
    assert "; gated on the estimate too (>= 0.99)" in rows["int8[vision-qat] agreement"]["compared"]
    row = rows["int8[vision-qat] quantize-aware accuracy change"]
    assert row["ratio"]["median"] == pytest.approx(-2.0) and row["passed"] is False
    assert "0.880 -> 0.860" in row["compared"] and "53 kernels on the int8 grid, 1 trained" in row["compared"]
