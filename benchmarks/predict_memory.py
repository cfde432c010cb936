"""`zoo predict` peak memory on many image files / on few (goal: flat, 10,000 images under 1.5 GB).

A vision run (MobileNetV2 linear probe on the demo, 96 px) predicts on a folder of N PNG
files through its run folder (the Keras model: the heaviest runtime); each `zoo predict`
is its own process, and its peak resident memory is read from the OS when it ends. Inputs
are read, run and printed a chunk at a time, so memory should not grow with N.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import report, run_cli


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak resident memory (MB) of `cmd`, run in a fresh wrapper process so only it is counted."""
    code = ("import resource, subprocess, sys; "
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024  # Linux reports kilobytes


def main(many: int = 10_000, few: int = 100) -> dict:
    work = Path(tempfile.mkdtemp(prefix="predict-memory-"))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_ZOO_CACHE=os.environ.get("KERAS_ZOO_CACHE", ""))
    zoo = [sys.executable, "-m", "zoo.cli"]
    subprocess.run(zoo + ["finetune", "--plugin", "vision", "--epochs", "1", "--max-samples", "64", "-o",
                          "image_size=96", "-o", "augment=false", "--runs-dir", str(work / "runs")],
                   check=True, capture_output=True, env=env)
    run = next((work / "runs").iterdir())
    examples = subprocess.run([sys.executable, "-c", (
        "import sys; from zoo_vision import plugin; r = plugin.resolve_recipe(overrides={'options': "
        "{'image_size': 96}}); print('\\n'.join(plugin.data.write_examples(sys.argv[1], r, plugin.options_for(r))))"),
        str(work / "examples")], check=True, capture_output=True, text=True, env=env).stdout.split()
    peaks = {}
    for n in (few, many):
        folder = work / f"images-{n}"
        folder.mkdir()
        for i in range(n):  # hard links: n files to open and decode, little disk
            source = Path(examples[i % len(examples)])
            os.link(source, folder / f"{i:05d}{source.suffix}")
        peaks[n] = peak_rss_mb(zoo + ["predict", str(run), str(folder), "--json"])
        print(f"  {n} images: peak {peaks[n]:.0f} MB", flush=True)
    ratio = peaks[many] / peaks[few]
    summary = {"median": ratio, "min": ratio, "max": ratio, "n": 1}
    return report("predict_memory", f"zoo predict peak memory, {many} / {few} image files (run folder, Keras; "
                  f"{peaks[many]:.0f} MB / {peaks[few]:.0f} MB)",
                  summary, f"<= 1.5, and {many} files < 1.5 GB", ratio <= 1.5 and peaks[many] < 1536,
                  {"peak_mb": {str(k): round(v) for k, v in peaks.items()}})


if __name__ == "__main__":
    run_cli(main, {"many": 1000, "few": 50})
