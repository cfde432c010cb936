"""`make bench`: run every benchmark script, each in its own process, and write the results page.

Writes `benchmarks/RESULTS.md` (benchmark, what is compared, median ratio with min
and max, goal, verdict, machine facts) and `benchmarks/results.json`. A script that
fails is listed with its error; the others still run. `--small` runs each one smaller.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine

HERE = Path(__file__).parent
SCRIPTS = ["cli_startup", "finetune_overhead", "linear_probe_cache", "input_pipeline", "export", "fraud", "flops",
           "predict_memory", "model_select", "int8", "qa", "detection", "federated",
           "federated_secure"]


def rows_of(result) -> list[dict]:
    """A script's JSON result as table rows (scripts return one row or a dict of rows)."""
    if isinstance(result, dict) and "benchmark" in result:
        return [result]
    if isinstance(result, dict) and isinstance(result.get("rows"), list):
        return result["rows"]
    if isinstance(result, list):
        return result
    return [{"benchmark": "?", "compared": json.dumps(result, default=str)[:200], "ratio": None, "goal": "", "passed": None}]


def fmt_ratio(ratio) -> str:
    if not isinstance(ratio, dict):
        return "" if ratio is None else str(ratio)
    small = 0 < abs(ratio["median"]) < 0.01
    spec = ".2e" if small else ".3f"
    if ratio.get("n") == 1 or ratio["min"] == ratio["max"]:
        return f"{ratio['median']:{spec}} (n=1)" if ratio.get("n") == 1 else f"{ratio['median']:{spec}}"
    return f"{ratio['median']:{spec}} ({ratio['min']:{spec}}-{ratio['max']:{spec}}, n={ratio.get('n', '?')})"


GPU_INPUTS = {"resnet50": "224 px", "minilm_l6": "128 tokens"}  # full sizes, for files without "input"


def gpu_section(path: Path) -> list[str]:
    """The GPU table, from the last `benchmarks/gpu.sh` run's file (committed; CI has no GPU)."""
    if not path.is_file():
        return ["", "## GPU", "", "`benchmarks/gpu.sh` has not been run on a GPU yet."]
    gpu = json.loads(path.read_text())
    m = gpu.get("machine", {})
    matmul = gpu.get("measured_matmul_flops", {})
    versions = ", ".join(f"{k} {m[k]}" for k in ("keras", "keras-hub", "jax", "tensorflow") if k in m)
    lines = ["", "## GPU", "",
             f"`benchmarks/gpu.sh`, run {gpu.get('date', '?')} on one {gpu.get('accelerator')} (Keras backend "
             f"{gpu.get('backend')}; {versions}; Python {m.get('python', '?')}). Measured matrix product in the "
             f"same run: bfloat16 {matmul.get('bfloat16', 0) / 1e12:.0f} TFLOP/s, float32 "
             f"{matmul.get('float32', 0) / 1e12:.0f} TFLOP/s. Training step on a batch already on the device; "
             "FLOPs per sample = 3 x the forward pass counted by the backend's compiler."
             + (" On JAX both columns are compiled by XLA (the backend has no other mode), and float32 "
                "matrix products run as TensorFloat-32 (the measured float32 rate is above the float32 peak)."
                if gpu.get("backend") == "jax" else ""), "",
             "| model | batch | float32 samples/s | bfloat16 + XLA samples/s | bf16 / fp32 | train GFLOP/sample "
             "| bf16 TFLOP/s | MFU (datasheet peak) | of measured matmul |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, row in gpu.get("models", {}).items():
        if "bfloat16" not in row:
            lines.append(f"| {name} | {row} | | | | | | | |")
            continue
        f32, bf16 = row["float32"], row["bfloat16"]
        mfu = bf16.get("mfu_datasheet")
        described = row.get("input") or GPU_INPUTS.get(name, "?")
        lines.append(f"| {name} ({described}) | {bf16['batch']} | {f32['samples_per_s']:.0f} | "
                     f"{bf16['samples_per_s']:.0f} | "
                     f"{row['speedup_bf16_over_fp32']:.2f}x | {bf16['train_gflops_per_sample']:.2f} | "
                     f"{bf16['achieved_tflops']:.0f} | {'' if mfu is None else f'{mfu:.1%}'} | "
                     f"{bf16['utilisation_of_measured_matmul']:.1%} |")
    probe = gpu.get("linear_probe")
    if probe:
        lines += ["", f"Cached linear probe / naive frozen fit on the GPU ({probe['images']} images at {probe['size']} px, "
                  f"{probe['epochs']} epochs, MobileNetV2): {probe['speedup_warm']:.1f}x with compiled functions "
                  f"reused ({probe['naive_warm_s']:.1f} s vs {probe['cached_warm_s']:.1f} s), "
                  f"{probe['speedup_cold']:.1f}x counting the first call's compilation "
                  f"({probe['naive_cold_s']:.1f} s vs {probe['cached_cold_s']:.1f} s); validation accuracy "
                  f"{probe['naive_val_accuracy']:.3f} naive, {probe['cached_val_accuracy']:.3f} cached."]
    return lines


def script_of(benchmark: str) -> str:
    """The script a row came from: `export tflite int8 size` -> export, `fraud[mlp]` -> fraud."""
    name = benchmark.split("[")[0].split(" ")[0]
    return name if name in SCRIPTS else benchmark


def results_from_page(page: Path) -> list[dict]:
    """The rows of a results page, grouped by script (ratios kept as the page wrote them)."""
    if not page.is_file():
        return []
    by_script: dict[str, dict] = {}
    for line in page.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) != 5 or cells[0] in ("benchmark", "---") or not line.startswith("| "):
            continue
        benchmark, compared, ratio, goal, verdict = cells
        script = script_of(benchmark)
        entry = by_script.setdefault(script, {"script": script, "rows": [], "from_page": True})
        if compared.startswith("failed: "):
            entry["error"] = compared[len("failed: "):]
            continue
        passed = {"pass": True, "falls short": False}.get(verdict)
        entry["rows"].append({"benchmark": benchmark, "compared": compared, "ratio": ratio, "goal": goal,
                              "passed": passed})
    return list(by_script.values())


def provenance(page: Path, facts: dict, what: str, command: str, minutes: float | None) -> str:
    """The page's "Measured ..." paragraph with this partial run's rows, date, machine and command added."""
    previous = ""
    if page.is_file():
        previous = next((line for line in page.read_text().splitlines() if line.startswith("Measured ")), "")
    added = (f"{what} {facts['date']} on {facts['cpu']} ({facts['cores']} cores), "
             f"TensorFlow {facts.get('tensorflow')}, Keras {facts.get('keras')} "
             f"(`{command}`" + ("" if minutes is None else f", {minutes:.1f} min") + ").")
    if not previous:
        return "Measured " + added
    if added.rstrip(".") in previous:  # the same rows merged again from the same command, the same day
        return previous
    return previous.rstrip(".") + "; " + added


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--only", nargs="*", help="run only these scripts")
    parser.add_argument("--merge", nargs=2, metavar=("SCRIPT", "JSON"),
                        help="put the rows of SCRIPT's JSON output into the page instead of running anything")
    parser.add_argument("--command", help="with --merge: the command that wrote JSON (for the page)")
    args = parser.parse_args()
    if args.merge:
        if not args.command:
            parser.error("--merge needs --command, the command that measured the rows")
        merge(*args.merge, args.command)
        return
    results, started = [], time.time()
    for name in args.only or SCRIPTS:
        script = HERE / f"{name}.py"
        if not script.is_file():
            results.append({"script": name, "error": "script missing", "rows": []})
            continue
        out = Path(tempfile.mkstemp(suffix=".json")[1])
        cmd = [sys.executable, str(script), "--json", str(out)] + (["--small"] if args.small else [])
        print(f"== {name}", flush=True)
        t0 = time.time()
        proc = subprocess.run(cmd, cwd=HERE, text=True, capture_output=True,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        seconds = round(time.time() - t0, 1)
        if proc.returncode != 0 or not out.stat().st_size:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            results.append({"script": name, "seconds": seconds, "error": tail[0], "rows": []})
            print(f"   failed: {tail[0]}", flush=True)
            continue
        data = json.loads(out.read_text())
        results.append({"script": name, "seconds": seconds, "rows": rows_of(data), "raw": data})
        for row in rows_of(data):
            print(f"   {row.get('benchmark')}: {fmt_ratio(row.get('ratio'))} goal {row.get('goal')}", flush=True)
    if args.only:  # keep the other scripts' last results: from results.json, else from the committed page
        ran = {r["script"] for r in results}
        if (HERE / "results.json").is_file():
            previous = json.loads((HERE / "results.json").read_text())["results"]
        else:
            previous = results_from_page(HERE / "RESULTS.md")
        by_name = {r["script"]: r for r in previous if r["script"] not in ran}
        by_name.update({r["script"]: r for r in results})
        results = [by_name[s] for s in SCRIPTS if s in by_name]
    facts = machine()
    facts["date"] = _dt.date.today().isoformat()
    # the scripts' own times, summed over the page (with --only, some are from the previous run)
    facts["total_seconds"] = round(sum(r.get("seconds", 0) for r in results), 1)
    facts["this_run_seconds"] = round(time.time() - started, 1)
    command = "run_all.py " + ("--small " if args.small else "") + "--only " + " ".join(args.only or [])
    measured = provenance(HERE / "RESULTS.md", facts, f"the {' and '.join(args.only or [])} rows", command,
                          (time.time() - started) / 60) if args.only else (
        f"Measured {facts['date']} on {facts['cpu']} ({facts['cores']} cores), TensorFlow "
        f"{facts.get('tensorflow')}, Keras {facts.get('keras')}, Python {facts['python']}; "
        f"the scripts took {facts['total_seconds'] / 60:.1f} min in all" + (" (--small)." if args.small else "."))
    write_page(results, facts, measured)


def merge(script: str, path: str, command: str) -> None:
    """Put the rows of one script's JSON output (`path`, from `command`) into the page: rows of the same
    name are replaced, new ones added, the script's other rows kept. For a part of a script rerun
    alone (`int8.py --cases vision-probe`, `detection.py --speed-only`)."""
    if (HERE / "results.json").is_file():
        previous = json.loads((HERE / "results.json").read_text())
    else:
        previous = {"machine": {}, "results": results_from_page(HERE / "RESULTS.md")}
    results = previous["results"]
    entry = next((r for r in results if r["script"] == script), None)
    if entry is None:
        print(f"Error: {script} has no rows on the page; run it with --only {script}", file=sys.stderr)
        sys.exit(2)
    if not Path(path).is_file():
        print(f"Error: {path} does not exist; pass the --json file the script wrote", file=sys.stderr)
        sys.exit(2)
    new_rows = rows_of(json.loads(Path(path).read_text()))
    by_name = {row["benchmark"]: row for row in new_rows}
    kept = [by_name.pop(row["benchmark"], row) for row in entry["rows"]]
    entry["rows"] = kept + list(by_name.values())
    facts = machine()
    facts["date"] = _dt.date.today().isoformat()
    facts["total_seconds"] = previous["machine"].get("total_seconds")
    names = sorted({row["benchmark"] for row in new_rows})
    prefixes = {name.split(" ")[0] for name in names}  # int8[vision-probe] agreement -> int8[vision-probe]
    what = (f"the {names[0]} row" if len(names) == 1 else "the " + ", ".join(sorted(prefixes)) + " rows")
    write_page(results, facts, provenance(HERE / "RESULTS.md", facts, what, command, None))


def write_page(results: list[dict], facts: dict, measured: str) -> None:
    (HERE / "results.json").write_text(json.dumps({"machine": facts, "results": results}, indent=2, default=str))
    lines = ["# Benchmark results", "", measured, "",
             "Each ratio is the median of side-by-side measurements in one process run (min-max, n pairs).", "",
             "| benchmark | compared | ratio | goal | verdict |", "| --- | --- | --- | --- | --- |"]
    for res in results:
        if "error" in res:
            lines.append(f"| {res['script']} | failed: {res['error']} | | | error |")
        for row in res["rows"]:
            passed = row.get("passed")
            verdict = "n/a" if passed is None else ("pass" if passed else "falls short")
            lines.append(f"| {row.get('benchmark')} | {row.get('compared')} | {fmt_ratio(row.get('ratio'))} | "
                         f"{row.get('goal')} | {verdict} |")
    lines += gpu_section(HERE / "gpu_results.json")
    notes = HERE / "NOTES.md"
    if notes.is_file():
        lines += ["", notes.read_text().strip()]
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
