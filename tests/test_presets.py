"""Presets on disk, in keras-hub's layout: every model saves to a directory (config.json,
model.weights.h5, metadata.json, the vocabulary as an asset) and `from_preset` gives it back
alike, the models it holds included; a preset name still builds a new model; a missing
directory, an unknown name, another class's preset, a directory without config.json and a
remote handle without network are refused by name; `gan-zoo convert --to-preset` writes one."""

import json
import socket

import keras
import numpy as np
import pytest
from conftest import authors_layout, fabricate_state_dict, tiny_dcgan

from gan_zoo import DAMSM, DCGANCLS, DFGAN, AttnGAN, StackGAN
from gan_zoo.models.preset_files import VOCABULARY_ASSET

pytestmark = pytest.mark.xdist_group("presets")  # module fixtures: one worker runs the file

CAPTIONS = ["a small red circle", "a big blue square"]
PRESET_FILES = ("config.json", "model.weights.h5", "metadata.json", VOCABULARY_ASSET)


def stackgan_stage2(vocabulary, damsm):
    stage1 = StackGAN.from_preset("small", vocabulary=vocabulary, image_size=16)
    return StackGAN.from_preset("small", stage=2, stage1=stage1, image_size=32)


MODELS = {  # name -> builder(vocabulary, damsm) of a small model
    "DCGANCLS": lambda vocabulary, damsm: tiny_dcgan(vocabulary),
    "StackGAN Stage-I": lambda vocabulary, damsm: StackGAN.from_preset(
        "small", vocabulary=vocabulary, image_size=16
    ),
    "StackGAN Stage-II": stackgan_stage2,
    "AttnGAN": lambda vocabulary, damsm: AttnGAN.from_preset("small", damsm=damsm),
    "DFGAN": lambda vocabulary, damsm: DFGAN.from_preset("small", damsm=damsm, sentence_dim=256),
}
WITH_DAMSM = {**MODELS, "DAMSM": lambda vocabulary, damsm: damsm}


@pytest.fixture(scope="module")
def damsm(shapes32):
    keras.utils.set_random_seed(0)
    return DAMSM(shapes32[3], image_encoder="small", image_size=32, seed=0)


@pytest.fixture(scope="module")
def dcgan_preset(shapes32, tmp_path_factory):
    """The directory of a saved DCGAN-cls preset."""
    directory = tmp_path_factory.mktemp("dcgan_cls")
    tiny_dcgan(shapes32[3]).save_to_preset(str(directory))
    return directory


def assert_preset_files(directory):
    for name in PRESET_FILES:
        assert (directory / name).is_file(), name
    config = (directory / "config.json").read_text()
    assert VOCABULARY_ASSET in config and "circle" not in config  # the words are in the asset
    metadata = json.loads((directory / "metadata.json").read_text())
    assert metadata["keras_hub_version"] and metadata["parameter_count"] > 0


def assert_same_weights(model, again):
    """Every weight, those of the models it holds (DAMSM, Stage-I) included, came back."""
    for a, b in zip(model.weights, again.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(b), keras.ops.convert_to_numpy(a))


def saved_and_loaded(name, vocabulary, damsm, directory):
    """(a small model, what `from_preset` gives back from the preset it saved)."""
    model = WITH_DAMSM[name](vocabulary, damsm)
    model.save_to_preset(directory)
    assert_preset_files(directory)
    again = type(model).from_preset(directory)  # a pathlib.Path, as a str
    assert type(again) is type(model) and again.vocabulary == model.vocabulary
    return model, again


@pytest.mark.parametrize("name", WITH_DAMSM)
def test_a_saved_preset_loads_back_with_every_weight(name, shapes32, damsm, tmp_path):
    assert_same_weights(*saved_and_loaded(name, shapes32[3], damsm, tmp_path))


@pytest.mark.once  # equal weights and configs compute alike on every backend
@pytest.mark.parametrize("name", MODELS)
def test_a_loaded_preset_generates_the_same_images(name, shapes32, damsm, tmp_path):
    model, again = saved_and_loaded(name, shapes32[3], damsm, tmp_path)
    np.testing.assert_array_equal(
        again.generate(CAPTIONS, seed=5), model.generate(CAPTIONS, seed=5)
    )


@pytest.mark.once
def test_a_loaded_damsm_preset_encodes_the_same(shapes32, damsm, tmp_path):
    damsm, again = saved_and_loaded("DAMSM", shapes32[3], damsm, tmp_path)
    np.testing.assert_array_equal(again.embed_captions(CAPTIONS), damsm.embed_captions(CAPTIONS))
    images = shapes32[0][:4]
    np.testing.assert_array_equal(again.embed_images(images), damsm.embed_images(images))


@pytest.mark.once
def test_a_preset_name_still_builds_a_new_model(shapes32):
    small = DFGAN.from_preset("small", vocabulary=shapes32[3])
    assert (small.nf, small.image_size) == (16, 32)


@pytest.mark.once
def test_bad_presets_are_refused_by_name(dcgan_preset, tmp_path):
    with pytest.raises(ValueError, match=r"No DCGANCLS preset at \S+/nowhere: no such directory"):
        DCGANCLS.from_preset(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"Unknown DAMSM preset 'birds'; give the path"):
        DAMSM.from_preset("birds")
    with pytest.raises(
        ValueError,
        match=r"AttnGAN\.from_preset cannot load the preset \S+: it holds a DCGANCLS; load it "
        r"with DCGANCLS\.from_preset",
    ):
        AttnGAN.from_preset(str(dcgan_preset))
    with pytest.raises(ValueError, match=r"recipe='stable' applies over a named DCGANCLS preset"):
        DCGANCLS.from_preset(str(dcgan_preset), recipe="stable")
    with pytest.raises(FileNotFoundError, match=r"holds no config\.json: it is no complete"):
        DCGANCLS.from_preset(str(tmp_path))


def hub_reachable():
    try:
        socket.getaddrinfo("huggingface.co", 443)
    except OSError:
        return False
    return True


@pytest.mark.once
def test_a_remote_handle_without_network_says_to_download_it_and_give_its_directory(monkeypatch):
    """No mock: the hubs cannot be reached from here."""
    if hub_reachable():
        pytest.skip("this machine reaches huggingface.co: the offline error cannot happen")
    import huggingface_hub.constants

    # offline as these machines are, minus huggingface_hub's 20 s of retries
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(
        ConnectionError,
        match=r"hf://gan-zoo/attngan_birds: its hub cannot be reached .* needs a download: run "
        r"`hf download gan-zoo/attngan_birds --local-dir attngan_birds` .* give its local path "
        r"instead: AttnGAN\.from_preset\('\./attngan_birds'\)",
    ):
        AttnGAN.from_preset("hf://gan-zoo/attngan_birds")
    with pytest.raises(
        ConnectionError, match=r"kagglehub\.model_download.*from_preset\('\./birds'"
    ):
        DAMSM.from_preset("kaggle://gan-zoo/damsm/keras/birds")


@pytest.mark.once
def test_cli_converts_the_authors_weights_to_a_preset(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from gan_zoo import convert
    from gan_zoo.cli import main

    checkpoint = tmp_path / "netG_epoch_120.pth"
    torch.save(
        fabricate_state_dict(authors_layout("stackgan_birds_STAGE1_G")["state_dict"]), checkpoint
    )
    preset = tmp_path / "stackgan_birds"
    argv = ["convert", "stackgan", str(checkpoint), "--preset", "birds"]
    assert main([*argv, "--to-preset", str(preset)]) == 0
    assert f"Wrote {preset}: a StackGAN" in capsys.readouterr().out
    for name in PRESET_FILES[:3]:  # sentence embeddings, no vocabulary
        assert (preset / name).is_file()
    embeddings = np.random.default_rng(2).standard_normal((3, 1024)).astype("float32")
    np.testing.assert_array_equal(
        StackGAN.from_preset(str(preset), stage=1).generate(embeddings=embeddings, seed=4),
        convert.stackgan_from_authors(str(checkpoint), preset="birds").generate(
            embeddings=embeddings, seed=4
        ),
    )
    with pytest.raises(SystemExit, match="convert writes --out FILE.keras, --to-preset DIR"):
        main(argv)
