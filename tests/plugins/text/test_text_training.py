"""End to end on the demo data: transfer learning, NER, LoRA, export and `zoo predict` (slow: real fine-tuning)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from text_helpers import recipe_for

from zoo.training.finetune import finetune

pytestmark = pytest.mark.slow

TEXTS = ["The badminton final went to a third set.", "The pasta with garlic and basil was delicious.",
         "My new phone keeps crashing after the update.", "It snowed all night and the roads are icy.",
         "Our goalkeeper saved two penalties.", "The router drops the wifi connection every hour."]
TOPICS = ["sports", "food", "technology", "weather", "sports", "technology"]


def test_transfer_learning_is_real(tmp_path):
    """Same recipe (full fine-tuning, 3 epochs), same data: MiniLM's weights against random ones.

    Asserted: pretrained test accuracy >= 0.85, random-init test accuracy <= 0.6, and a margin of at
    least 0.3 (measured: 0.98 against 0.31 on the 48 demo test texts of 4 topics, chance 0.25).
    """
    from zoo_text import plugin

    pretrained = finetune(plugin, recipe_for(plugin, epochs=3), runs_dir=tmp_path, verbose=0)
    random = finetune(plugin, recipe_for(plugin, epochs=3, weights="none"), runs_dir=tmp_path, verbose=0)
    a, b = pretrained.test_metrics["accuracy"], random.test_metrics["accuracy"]
    print(f"test accuracy: MiniLM {a:.3f}, random init {b:.3f}")
    assert a >= 0.85 and b <= 0.6 and a - b >= 0.3, (a, b)
    meta = json.loads((pretrained.path / "zoo.json").read_text())
    assert meta["weights"] == "pretrained" and meta["backbone"] == "minilm_l6"
    assert meta["deployment"]["text_tokenizer"]["vocabulary_size"] == 30522
    _worst_samples_show_their_text(random.path)


def _worst_samples_show_their_text(run):
    """The report's worst-scored validation texts: each one a demo text, decoded back from its token ids."""
    from zoo.report_html import WORST_SAMPLES
    from zoo_text import io
    from zoo_text.data import demo_file

    def squeeze(text):
        return "".join(text.lower().split())

    demo = {squeeze(r.fields["text"]) for r in io.read_table(demo_file("topics.csv"))}
    texts = [p.read_text() for p in sorted((run / "samples").glob("validation-*.txt"))]
    assert len(texts) == WORST_SAMPLES
    assert all(squeeze(t) in demo for t in texts), texts
    page = (run / "report.html").read_text()
    worst = page.split('<section id="worst-samples">', 1)[1].split("</section>", 1)[0]
    import html

    assert "<th>sample</th>" in worst and all(html.escape(t) in worst for t in texts)


def test_ner_finetune_beats_the_majority_tag_baseline(tmp_path):
    """Entity F1 on the demo test split (computed by the plugin's analyze hook) against "all O"."""
    from zoo.training.finetune import labels_of
    from zoo_text import ner_plugin
    from zoo_text.entities import majority_tag_scores

    recipe = recipe_for(ner_plugin, epochs=3)
    result = finetune(ner_plugin, recipe, runs_dir=tmp_path, verbose=0)
    bundle = ner_plugin.data.demo(recipe, ner_plugin.options_for(recipe))
    names = bundle.class_names
    baseline = majority_tag_scores(labels_of(bundle.train), labels_of(bundle.test), names)["f1"]
    f1 = result.test_metrics["entity_f1"]
    print(f"test entity F1: {f1:.3f}, majority-tag baseline {baseline:.3f}")
    assert baseline == 0.0 and f1 >= 0.7, (f1, baseline)
    meta = json.loads((result.path / "zoo.json").read_text())
    assert set(meta["analysis"]["entity_scores"]["test"]["per_type"]) == {"LOC", "ORG", "PER"}
    _report_page_has_the_entity_table(result.path, meta, tmp_path)

    # zoo predict: one tag per word, from the run and from its verified ONNX export
    from zoo.deploy import export_run, predict

    sentences = tmp_path / "sentences.txt"
    sentences.write_text("Maria Garcia flew to Tokyo on Monday .\nNothing happened today .\n")
    rows = predict(result.path, [str(sentences)])
    assert [len(r["tags"]) for r in rows] == [8, 4]
    assert rows[0]["tags"][:5] == ["B-PER", "I-PER", "O", "O", "B-LOC"], rows
    assert rows[1]["tags"] == ["O"] * 4
    onnx = export_run(result.path, "onnx")
    assert onnx.verification.passed
    assert [r["tags"] for r in predict(onnx.path, [str(sentences)])] == [r["tags"] for r in rows]


def test_lora_trains_adapters_and_head_then_onnx_and_keras_agree(tmp_path):
    from zoo.deploy import export_run, predict
    from zoo_text import plugin

    recipe = recipe_for(plugin, strategy="lora", epochs=2, learning_rate=1e-3)
    result = finetune(plugin, recipe, runs_dir=tmp_path, verbose=0)
    trainable = [w.path for w in result.model.trainable_weights]
    adapters = [p for p in trainable if "lora_kernel" in p]
    assert len(adapters) == 6 * 6 * 2  # q, k, v, attention output, 2 feed-forward kernels per layer; a and b
    assert sorted(set(trainable) - set(adapters)) == ["output/bias", "output/kernel"], trainable  # the head
    assert result.test_metrics["accuracy"] >= 0.8

    onnx = export_run(result.path, "onnx")
    assert onnx.verification.passed
    sidecar = json.loads(onnx.sidecar_path.read_text())
    assert sidecar["deployment"]["text_tokenizer"]["tokenizer_class"] == "keras_hub>BertTokenizer"
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n")
    from_keras = predict(result.path, [str(texts)])
    from_onnx = predict(onnx.path, [str(texts)])
    assert [r["label"] for r in from_onnx] == [r["label"] for r in from_keras]
    for a, b in zip(from_keras, from_onnx):
        assert a["input"] == b["input"]
        np.testing.assert_allclose(list(a["scores"].values()), list(b["scores"].values()), atol=1e-4)
    assert sum(r["label"] == t for r, t in zip(from_keras, TOPICS)) >= 5, from_keras  # texts it never saw

    saved = export_run(result.path, "savedmodel")
    assert saved.verification.passed


@pytest.mark.full  # the default recipe on the whole demo; the tutorial's run covers the command line
def test_cli_demo_with_no_other_argument(tmp_path):
    out = subprocess.run([sys.executable, "-m", "zoo.cli", "finetune", "--plugin", "text"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    meta = json.loads(next((tmp_path / "runs").glob("text-*/zoo.json")).read_text())
    assert meta["status"] == "complete" and meta["metrics"]["test"]["accuracy"] >= 0.85
    print(out.stdout[-600:], meta["timings_s"])


@pytest.mark.parametrize("strategy", ["gradual", "discriminative"])
def test_scheduled_strategies_run(tmp_path, strategy):
    """The strategies that act during training, on a small slice (full and lora are trained above; what
    linear-probe and partial open is checked on the assembled model in test_text_backbones.py)."""
    from zoo_text import plugin

    recipe = recipe_for(plugin, strategy=strategy, epochs=2, unfreeze_every=1, max_samples=32,
                        options={"sequence_length": 16})
    result = finetune(plugin, recipe, runs_dir=tmp_path, verbose=0)
    paths = {w.path.split("/")[0] for w in result.model.trainable_weights}
    expected = {"gradual": {"output", "transformer_layer_5"},  # one block unfrozen at the second epoch
                "discriminative": None}[strategy]
    if expected is None:
        assert {"token_embedding", "transformer_layer_0", "output"} <= paths
    else:
        assert paths == expected, paths
    assert np.isfinite(result.metrics["loss"])


@pytest.mark.parametrize("name", ["binary_plugin", "multilabel_plugin"])
def test_binary_and_multilabel_train(tmp_path, name):
    import zoo_text

    plugin = getattr(zoo_text, name)
    recipe = recipe_for(plugin, epochs=2, max_samples=96, options={"sequence_length": 24})
    result = finetune(plugin, recipe, runs_dir=tmp_path, verbose=0)
    assert result.model.output.shape[-1] == (1 if plugin.task.kind == "binary" else 4)
    assert result.test_metrics["auc"] > 0.6, result.test_metrics


def _report_page_has_the_entity_table(run, meta, tmp_path):
    """report.html: the NER plugin's section, one row per entity type with the run's own scores."""
    import re

    from zoo.report_html import render_report

    from report_testing import CHROMIUM, chromium_checked, section

    body = section(render_report(run), "plugin-0-per-entity-scores")
    for split in ("validation", "test"):
        scores = meta["analysis"]["entity_scores"][split]
        part = body.split(f"<strong>{split}</strong>", 1)[1]
        table = part.split("</table>", 1)[0]
        rows = re.findall(r"<tr><td>(\w+)</td><td[^>]*>([\d.]+)</td><td[^>]*>([\d.]+)</td><td[^>]*>([\d.]+)</td>", table)
        assert {kind for kind, *_ in rows} == {"LOC", "ORG", "PER"}
        for kind, precision, recall, f1 in rows:
            s = scores["per_type"][kind]
            assert (float(precision), float(recall), float(f1)) == pytest.approx(
                (s["precision"], s["recall"], s["f1"]), abs=5e-4)
        assert f"{scores['f1']:.3f}" in table
    if CHROMIUM is not None:  # `make test` installs it
        page = tmp_path / "ner-report.html"
        page.write_text(render_report(run))
        assert "Per-entity scores" in chromium_checked(page, tmp_path, ("summary", "metrics",
                                                                        "plugin-0-per-entity-scores"))
