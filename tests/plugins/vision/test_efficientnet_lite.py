"""EfficientNet-Lite: the Keras architecture holds the real ImageNet checkpoints, read without PyTorch."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest

from zoo.errors import WeightsError
from zoo_vision.backbones import (IMAGENET_BACKBONES, OFFLINE_CHECKPOINTS, backbone_blocks, build_imagenet_backbone,
                                  imagenet_head)
from zoo_vision.efficientnet_lite import (VARIANTS, build_efficientnet_lite, checkpoint_path, load_imagenet_weights,
                                          read_legacy_torch_state_dict)

#: ImageNet-1k class ids: 281 tabby, 282 tiger cat, 285 Egyptian cat; 967 espresso
CAT_CLASSES = {281, 282, 283, 284, 285}
ESPRESSO = 967


def _photo(name: str, size: int) -> np.ndarray:
    import keras
    from skimage import data

    img = getattr(data, name)().astype("float32")
    return keras.ops.convert_to_numpy(keras.ops.image.resize(img[None], (size, size), antialias=True))


@pytest.mark.parametrize("variant", OFFLINE_CHECKPOINTS)
def test_real_photos_land_in_their_imagenet_classes(variant):
    """With the ImageNet head, a cat photo is a cat and an espresso is espresso.

    Measured at each variant's own resolution: chelsea -> 285 Egyptian cat (p 0.73-0.79), coffee ->
    967 espresso (p 0.66-0.91). Random weights give near-uniform outputs (p < 0.01), so these fail
    for a conversion that scrambles any layer.
    """
    from zoo_vision.layers import ImageNetPreprocess

    size = VARIANTS[variant][2]
    model = build_efficientnet_lite(variant, (size, size, 3), include_top=True)
    load_imagenet_weights(model, variant)
    prep = ImageNetPreprocess(mode="edge")
    cat = model.predict(prep(_photo("chelsea", size)), verbose=0)[0]
    coffee = model.predict(prep(_photo("coffee", size)), verbose=0)[0]
    assert int(np.argmax(cat)) in CAT_CLASSES and cat.max() > 0.5, np.argsort(cat)[-3:]
    assert int(np.argmax(coffee)) == ESPRESSO and coffee.max() > 0.5, np.argsort(coffee)[-3:]


def test_backbone_is_the_checkpoint_without_its_head():
    """`build_imagenet_backbone` gives the notop model (weights from the checkpoint), stages as keras names them;
    the ImageNet head it leaves out is what `imagenet_head` returns, so pooled features @ head = the full model."""
    import keras

    model = build_imagenet_backbone("efficientnet_lite0", "imagenet", 96)
    assert model.output.shape[1:] == (3, 3, 1280)
    assert model.count_params() == IMAGENET_BACKBONES["efficientnet_lite0"]["parameters"]
    blocks = backbone_blocks("efficientnet_lite0", model)
    assert len(blocks) == 9 and blocks[0][0] == "stem_conv" and blocks[-1] == ["top_conv", "top_bn", "top_relu"]
    assert all(name.startswith("block1a_") for name in blocks[1])

    full = build_efficientnet_lite("efficientnet_lite0", (96, 96, 3), include_top=True)
    load_imagenet_weights(full, "efficientnet_lite0")
    kernel, bias = imagenet_head("efficientnet_lite0", "imagenet")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 96, 96, 3)).astype("float32")
    pooled = keras.ops.convert_to_numpy(model(x)).mean(axis=(1, 2))
    logits = pooled @ kernel + bias
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(expected / expected.sum(1, keepdims=True), full.predict(x, verbose=0), atol=1e-5)
    assert imagenet_head("efficientnet_lite0", "none") is None
    assert imagenet_head("resnet50", "imagenet") is None


def test_mobilenet_v2_head_is_shipped():
    kernel, bias = imagenet_head("mobilenet_v2", "imagenet")
    assert kernel.shape == (1280, 1000) and bias.shape == (1000,)


def test_random_initialisation_differs_from_the_checkpoint():
    a = build_imagenet_backbone("efficientnet_lite1", None, 64)
    b = build_imagenet_backbone("efficientnet_lite1", "imagenet", 64)
    assert a.get_layer("stem_conv").get_weights()[0].shape == (3, 3, 3, 32)
    assert not np.allclose(a.get_layer("stem_conv").get_weights()[0], b.get_layer("stem_conv").get_weights()[0])


def test_damaged_checkpoint_is_refused_by_sha256(tmp_path):
    bad = tmp_path / "lite0.pth"
    data = bytearray(checkpoint_path("efficientnet_lite0").read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    model = build_efficientnet_lite("efficientnet_lite0", (64, 64, 3))
    with pytest.raises(WeightsError, match="sha256"):
        load_imagenet_weights(model, "efficientnet_lite0", bad)


class _Boom:
    """A pickled object whose unpickling would run code (os.system in a real attack)."""

    def __reduce__(self):
        return (print, ("this must never run",))


def _legacy_file(path, payload) -> None:
    """The legacy torch.save layout: magic, protocol, system info, then the object pickle, keys."""
    with open(path, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, f, protocol=2)
        pickle.dump(payload, f, protocol=2)
        pickle.dump([], f, protocol=2)


def test_reader_refuses_anything_but_tensors(tmp_path, capsys):
    evil = tmp_path / "evil.pth"
    _legacy_file(evil, {"weight": _Boom()})
    with pytest.raises(WeightsError, match="refused to load .*print"):
        read_legacy_torch_state_dict(evil)
    assert "must never run" not in capsys.readouterr().out

    not_torch = tmp_path / "plain.pth"
    not_torch.write_bytes(pickle.dumps({"a": 1}) + struct.pack("<q", 0))
    with pytest.raises(WeightsError, match="not a legacy PyTorch checkpoint"):
        read_legacy_torch_state_dict(not_torch)

    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(checkpoint_path("efficientnet_lite0").read_bytes()[:100_000])
    with pytest.raises(WeightsError, match="truncated|cannot read"):
        read_legacy_torch_state_dict(truncated)


def test_reader_gives_every_tensor_of_the_checkpoint():
    state = read_legacy_torch_state_dict(checkpoint_path("efficientnet_lite2"))
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3) and state["_conv_stem.weight"].dtype == np.float32
    assert state["_fc.weight"].shape == (1000, 1280)
    blocks = {key.split(".")[1] for key in state if key.startswith("_blocks.")}
    assert len(blocks) == 21  # Lite2: depth 1.2 on the middle stages, first and last fixed
    assert np.isfinite(state["_bn1.running_var"]).all() and (state["_bn1.running_var"] > 0).all()


def test_medical_ct_offers_the_offline_backbones():
    from zoo_medical_ct import plugin

    for name in OFFLINE_CHECKPOINTS:
        assert name in plugin.backbones
        assert "offline" in plugin.backbones[name].weights["imagenet"]
