"""Conformance, the shipped MiniLM encoder, blocks, keras-hub presets offline."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from text_helpers import SHORT, demo, recipe_for

from zoo.errors import ConfigError, WeightsError


@pytest.mark.parametrize("name", ["plugin", "binary_plugin", "multilabel_plugin", "ner_plugin"])
def test_conformance(name):
    import zoo_text
    from zoo.testing import check_plugin

    plugin = getattr(zoo_text, name)
    assert plugin.contract == 2 and plugin.validate() == []
    report = check_plugin(plugin, recipe={"options": SHORT}, check_import=name == "plugin", train=False)
    assert report["contract"] == 2
    assert report.get("preview") == (None if name == "ner_plugin" else "text")  # NER scores words, not texts
    assert report["backbones"]["minilm_l6"]["blocks"] == 7  # embeddings + 6 transformer layers
    assert report["demo_train"] > 150 and report["demo_validation"] >= 40


@pytest.mark.slow
@pytest.mark.parametrize("name", ["plugin", "ner_plugin"])
def test_conformance_trains_exports_and_predicts_the_examples(tmp_path, name):
    """The whole path: a short run, a verified export, write_examples -> read_inputs -> zoo predict."""
    import zoo_text
    from zoo.testing import check_plugin

    plugin = getattr(zoo_text, name)
    report = check_plugin(plugin, recipe={"options": {"sequence_length": 16}}, check_import=False,
                          workdir=tmp_path)
    assert report["predict"]["rows"] == (12 if name == "ner_plugin" else 16)


def test_import_does_not_load_tensorflow_or_keras_hub():
    code = ("import sys, zoo_text; bad = [m for m in ('tensorflow', 'keras', 'keras_hub') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _embed(texts, weights):
    from zoo_text.backbones import build_text_backbone
    from zoo_text.tokenize import TextEncoder

    encoder = TextEncoder.for_backbone("minilm_l6", 32)
    signature = {k: None for k in encoder.input_names}
    model = build_text_backbone("minilm_l6", "pooled", weights, signature, {"pooling": "mean"})
    vectors = model.predict(encoder.encode_numpy(texts), verbose=0)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_minilm_sentence_embeddings_know_paraphrases():
    """Paraphrases are closer than unrelated sentences with the shipped weights, not with random ones."""
    texts = ["A man is playing a guitar.", "Someone plays an acoustic guitar.",
             "The stock market fell sharply today.",
             "How do I reset my password?", "I forgot my login password and need to change it.",
             "The cat sleeps on the warm windowsill."]
    pairs = [(0, 1, 2), (3, 4, 5)]  # (anchor, paraphrase, unrelated)

    def margins(vectors):
        return [float(vectors[a] @ vectors[p] - vectors[a] @ vectors[u]) for a, p, u in pairs]

    pretrained = margins(_embed(texts, "pretrained"))
    assert min(pretrained) > 0.4, pretrained
    random = margins(_embed(texts, None))
    assert max(random) < 0.2, random  # a random encoder cannot tell paraphrases apart


def test_blocks_cover_embeddings_then_each_transformer_layer():
    from zoo.strategies.freeze import resolve_blocks
    from zoo_text import ner_plugin, plugin

    for p, last in ((plugin, "mean_pool"), (ner_plugin, "transformer_layer_5")):
        spec = p.backbone()
        model = spec.build(None, {"token_ids": None, "padding_mask": None, "segment_ids": None},
                           p.options_for(recipe_for(p)))
        blocks = spec.blocks(model)
        assert blocks[0] == ["token_embedding", "position_embedding", "segment_embedding", "embeddings_add",
                             "embeddings_layer_norm", "embeddings_dropout"]
        assert [b[0] for b in blocks[1:]] == [f"transformer_layer_{i}" for i in range(6)]
        assert blocks[-1][-1] == last
        resolve_blocks(spec, model)  # every layer with weights, in order


def test_linear_probe_and_partial_open_what_they_say():
    """On the assembled model (the engine's path up to compile): the head alone, or the top 2 blocks and it."""
    from zoo.training.finetune import assemble
    from zoo_text import plugin

    bundle = demo(plugin, max_samples=32, options={"sequence_length": 16})
    for strategy, expected in (("linear-probe", {"output"}),
                               ("partial", {"output", "transformer_layer_4", "transformer_layer_5"})):
        parts = assemble(plugin, recipe_for(plugin, strategy=strategy, options={"sequence_length": 16}), bundle)
        assert {w.path.split("/")[0] for w in parts.model.trainable_weights} == expected, strategy


def test_pooling_comes_from_the_options_and_ner_keeps_the_sequence():
    from zoo_text import ner_plugin
    from zoo_text import plugin as text_plugin

    signature = demo(text_plugin).input_signature
    for pooling, layer in (("cls", "cls_pool"), ("mean", "mean_pool")):
        options = text_plugin.options_for(recipe_for(text_plugin, options={"pooling": pooling}))
        model = text_plugin.backbone().build(None, signature, options)
        assert layer in [x.name for x in model.layers] and tuple(model.output.shape) == (None, 384)
    # the same options, built twice in the other order: nothing is remembered between builds
    cls = text_plugin.options_for(recipe_for(text_plugin, options={"pooling": "cls"}))
    assert "cls_pool" in [x.name for x in text_plugin.backbone().build(None, signature, cls).layers]
    ner = ner_plugin.backbone().build(None, signature, ner_plugin.options_for(recipe_for(ner_plugin)))
    assert tuple(ner.output.shape) == (None, None, 384)
    hub = ner_plugin.backbone("hub:" + str(_minilm()))
    assert len(hub.build(None, signature, ner_plugin.options_for(recipe_for(ner_plugin))).output.shape) == 3


def _minilm():
    from zoo_text.backbones import minilm_dir

    return minilm_dir()


def test_hub_preset_offline_is_one_line_weights_error():
    from zoo_text import plugin as text_plugin

    spec = text_plugin.backbone("hub:bert_tiny_en_uncased")
    assert spec.name == "hub_bert_tiny_en_uncased" and spec.default_weights == "pretrained"
    try:
        spec.build("pretrained", {"token_ids": None, "padding_mask": None, "segment_ids": None},
                   text_plugin.options_for(recipe_for(text_plugin)))
    except WeightsError as exc:
        message = str(exc)
        assert "\n" not in message and "bert_tiny_en_uncased" in message and "minilm_l6" in message
    else:
        pytest.skip("this machine can download keras-hub presets")


def test_local_folder_backbone_and_unknown_names(tmp_path):
    from zoo_text import plugin as text_plugin

    from zoo_text.backbones import minilm_dir

    spec = text_plugin.backbone(f"hub:{minilm_dir()}")
    options = text_plugin.options_for(recipe_for(text_plugin))
    model = spec.build(None, {"token_ids": None, "padding_mask": None, "segment_ids": None}, options)
    assert model.output.shape[-1] == 384
    with pytest.raises(ConfigError, match="no backbone"):
        text_plugin.backbone("minilm_l12")
    with pytest.raises(ConfigError, match="no such folder"):
        text_plugin.backbone(f"hub:{tmp_path / 'missing'}").build(None, {}, options)
