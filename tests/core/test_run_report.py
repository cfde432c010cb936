"""report.html of a real run: sections, embedded images, a plugin's own sections, headless Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from zoo.api import Plugin, ReportSection, TaskSpec
from zoo.testing import registered

from report_testing import chromium_checked, decode_all as _decode_all, needs_chromium, section


def _thumbnail(inputs, recipe, options, metadata):
    from zoo.data import thumbnail_png

    return thumbnail_png(inputs["pixels"])


def _binary_plugin(report_sections=None):
    """The toy CNN on a two-class version of its colour images, with a decision threshold and a section."""
    import zoo_toy

    class TwoColours(zoo_toy.ToyData):
        def demo(self, recipe, options):
            x, y = zoo_toy.make_arrays(options["samples"], recipe.seed)
            keep = y < 2
            return zoo_toy.to_bundle(x[keep], y[keep], recipe, ["red", "green"])

    def analyze(run_dir, recipe, options, validation, test):
        from zoo.reports import figure_png, _pyplot

        labels, scores = validation
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.hist(np.asarray(scores).reshape(-1), bins=10)
        (Path(run_dir) / "plots" / "score_histogram.png").write_bytes(figure_png(fig))
        return {"decision_threshold": 0.4, "model_card": "## Colour notes\nRed against green only."}

    def sections(run_dir, meta):
        return [ReportSection("Colour study", "Scores of **red** and **green**.\n\n| colour | n |\n| --- | --- |\n"
                              "| red | 1 |", html="<p id='colour-extra'>extra</p>",
                              images=[("score histogram", run_dir / "plots" / "score_histogram.png")])]

    return Plugin(name="toy-binary", domain="testing", summary="two colours", backbones={"toy_cnn": zoo_toy.BACKBONE},
                  default_backbone="toy_cnn", task=TaskSpec(kind="binary"), data=TwoColours(),
                  options=dict(zoo_toy.OPTIONS), recipe={"epochs": 2, "batch_size": 32, "learning_rate": 0.01,
                                                         "warmup_epochs": 0, "patience": 0},
                  analyze=analyze, report_sections=report_sections or sections, preview=_thumbnail, contract=2)


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory):
    """A finished binary run, exported to TFLite (the report is refreshed by the export)."""
    from zoo.deploy import export_run
    from zoo.training.finetune import finetune

    plugin = _binary_plugin()
    runs = tmp_path_factory.mktemp("report_runs")
    with registered(plugin):
        recipe = plugin.resolve_recipe(overrides={"options": {"samples": 150}})
        result = finetune(plugin, recipe, runs_dir=runs, verbose=0)
        export_run(result.path, "tflite", samples=16)
    return result.path


SECTIONS = ("summary", "metrics", "learning-curves", "confusion-matrix", "roc-pr", "reliability", "worst-samples",
            "exports", "model-card")


def test_the_report_holds_every_section_and_only_embedded_images(binary_run):
    page = (binary_run / "report.html").read_text()
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in page, sid
    assert "Colour study" in page and "<strong>red</strong>" in page and "colour-extra" in page
    # a plot of the plugin's own, in plots/: shown in the plugin's section, so not again under "Plots"
    assert "score_histogram.png" not in page and _decode_all(section(page, "plugin-0-colour-study")) == 1
    roc = page.split('<section id="roc-pr">', 1)[1].split("</section>", 1)[0]
    assert '<td class="num">0.4000</td>' in roc  # the plugin's decision threshold, the point marked on ROC / PR
    assert "Colour notes" in page  # the model card with the analyze section
    exports = page.split('<section id="exports">', 1)[1].split("</section>", 1)[0]
    assert "model.tflite" in exports and "tflite" in exports and ">passed<" in exports
    assert re.search(r"<td>\d+\.\d\d ms \(Keras \d+\.\d\d ms\)</td>", exports), exports
    assert _decode_all(page) >= 6  # curves, confusion, per-class, ROC/PR, reliability, histogram
    # self-contained: no script, no stylesheet or image fetched from anywhere
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)=\"(https?:|//|file:)", page)


def test_scores_are_kept_for_the_report(binary_run):
    from zoo.report_html import load_scores

    labels, scores = load_scores(binary_run, "validation")
    assert len(labels) == len(scores) > 0 and set(np.unique(labels)) <= {0, 1}


@needs_chromium
def test_the_report_renders_in_headless_chromium(binary_run, tmp_path):
    dom = chromium_checked(binary_run / "report.html", tmp_path, SECTIONS)
    assert "Colour study" in dom and _decode_all(dom) >= 6


def test_worst_samples_show_the_plugins_previews_of_those_rows(binary_run):
    """samples/ holds the preview of each worst-scored row, and it is the preview of that row's input."""
    from zoo.report_html import WORST_SAMPLES, load_scores, worst_rows
    from zoo.runs import read_run

    meta = read_run(binary_run)
    plugin = _binary_plugin()
    labels, scores = load_scores(binary_run, "validation")
    rows = worst_rows(labels, scores, meta["class_names"], plugin.task, meta["decision_threshold"])
    assert len(rows) == WORST_SAMPLES
    assert sorted(p.name for p in (binary_run / "samples").iterdir()) == sorted(f"validation-{r}.png" for r in rows)
    recipe = plugin.resolve_recipe(overrides={"options": {"samples": 150}})
    bundle = plugin.data.demo(recipe, plugin.options_for(recipe))
    inputs = list(bundle.validation.as_numpy_iterator())
    for row in rows:
        assert (binary_run / "samples" / f"validation-{row}.png").read_bytes() == _thumbnail(inputs[row][0], 0, 0, 0)
    page = (binary_run / "report.html").read_text()
    worst = section(page, "worst-samples")
    assert "<th>sample</th>" in worst and worst.count('class="thumb"') == WORST_SAMPLES
    assert _decode_all(worst) == WORST_SAMPLES


def test_a_preview_that_raises_leaves_that_row_out(caplog):
    import tensorflow as tf

    from zoo.training.finetune import sample_previews

    def preview(inputs, recipe, options, metadata):
        if int(inputs["pixels"][0]) == 3:
            raise ValueError("no thumbnail for this one")
        return f"row of {int(inputs['pixels'][0])} ({metadata['source']})"

    plugin = _binary_plugin()
    plugin.preview = preview
    recipe = plugin.resolve_recipe()
    dataset = tf.data.Dataset.from_tensor_slices(({"pixels": np.arange(8)[:, None]}, np.zeros(8)))
    out = sample_previews(plugin, recipe, dataset, [5, 3, 1], {"source": "demo"})
    assert out == {1: "row of 1 (demo)", 5: "row of 5 (demo)"}
    assert "preview of validation row 3 failed (ValueError: no thumbnail for this one)" in caplog.text


def test_a_failing_plugin_section_leaves_the_rest_of_the_page(binary_run, tmp_path, caplog):
    from zoo.report_html import write_report

    def broken(run_dir, meta):
        raise KeyError("studies.json")

    run = tmp_path / "run"
    shutil.copytree(binary_run, run)
    with registered(_binary_plugin(report_sections=broken)):
        page = write_report(run).read_text()
    assert 'id="plugin-error"' in page and "KeyError" in page
    assert '<section id="roc-pr">' in page
    assert any("report_sections failed" in r.message for r in caplog.records)


def test_markdown_subset():
    from zoo.report_html import markdown_html

    out = markdown_html("# Card\n- `a` and **b**\n\n| k | v |\n| --- | --- |\n| x | <1> |\n![p](plots/p.png)")
    assert "<h2>Card</h2>" in out and "<li><code>a</code> and <strong>b</strong></li>" in out
    assert "<td>&lt;1&gt;</td>" in out and "plots/p.png" not in out
