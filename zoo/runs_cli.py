"""`zoo runs list` and `zoo runs compare`: the run folders of a project, side by side.

Both read run files only (`zoo.json`, `history.csv`, `scores.npz`) and never import TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def runs() -> None:
    """Run folders: list them, compare them."""


@runs.command("list")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def runs_list(runs_dir: str, as_json: bool) -> None:
    """Runs under --runs-dir, newest first: plugin, backbone, strategy, status, main metric, date."""
    from zoo.report_html import list_runs

    rows = list_runs(runs_dir)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no runs under {runs_dir}/; run `zoo finetune --plugin NAME` first")
        return
    width = max(len("run"), *(len(r["run"]) for r in rows))
    click.echo(f"{'run':<{width}}  {'plugin':<14} {'backbone':<18} {'strategy':<14} {'status':<9} "
               f"{'main metric':<22} date")
    for r in rows:
        metric = "" if r["metric"] is None else f"{r['monitor']}={r['metric']:.4f}"
        click.echo(f"{r['run']:<{width}}  {str(r['plugin']):<14} {str(r['backbone']):<18} "
                   f"{str(r['strategy']):<14} {r['status']:<9} {metric:<22} {r['date']}")


@runs.command("compare")
@click.argument("run_dirs", metavar="RUN RUN...", nargs=-1, required=True, type=click.Path())
@click.option("--out", "-o", default="compare.html", show_default=True, type=click.Path(dir_okay=False),
              help="The HTML page to write.")
def runs_compare(run_dirs: tuple[str, ...], out: str) -> None:
    """Metrics and recipe differences of RUNs side by side, curves overlaid: one self-contained HTML page."""
    from zoo.report_html import write_compare

    path = write_compare([Path(r) for r in run_dirs], out)
    click.echo(f"compared {len(run_dirs)} runs: {path}")
