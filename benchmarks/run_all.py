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
SCRIPTS = ["cli_startup", "finetune_overhead", "linear_probe_cache", "input_pipeline", "export", "fraud", "flops"]


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
    return f"{ratio['median']:.3f} ({ratio['min']:.3f}-{ratio['max']:.3f}, n={ratio.get('n', '?')})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--only", nargs="*", help="run only these scripts")
    args = parser.parse_args()
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
    if args.only and (HERE / "results.json").is_file():  # keep the other scripts' last results
        ran = {r["script"] for r in results}
        previous = json.loads((HERE / "results.json").read_text())["results"]
        by_name = {r["script"]: r for r in previous if r["script"] not in ran}
        by_name.update({r["script"]: r for r in results})
        results = [by_name[s] for s in SCRIPTS if s in by_name]
    facts = machine()
    facts["date"] = _dt.date.today().isoformat()
    facts["total_seconds"] = round(time.time() - started, 1)
    (HERE / "results.json").write_text(json.dumps({"machine": facts, "results": results}, indent=2, default=str))
    lines = ["# Benchmark results", "",
             f"Measured {facts['date']} on {facts['cpu']} ({facts['cores']} cores), TensorFlow "
             f"{facts.get('tensorflow')}, Keras {facts.get('keras')}, Python {facts['python']}; "
             f"`make bench` took {facts['total_seconds'] / 60:.1f} min"
             + (" (--small)." if args.small else "."), "",
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
    notes = HERE / "NOTES.md"
    if notes.is_file():
        lines += ["", notes.read_text().strip()]
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
