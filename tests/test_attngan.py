"""AttnGAN: the authors' sizes, stage and attention shapes, a frozen DAMSM, saving, the moving
average (its learning test is in test_damsm_attngan_learning.py)."""

import inspect

import keras
import numpy as np
import pytest
from conftest import trainable_count
from model_harness import assert_reload_gives_the_same

from gan_zoo import DAMSM, AttnGAN, Vocabulary
from gan_zoo.data import make_dataset
from gan_zoo.models.attngan import build_generator

pytestmark = pytest.mark.xdist_group("attngan")  # module fixtures: one worker runs the file

# Trainable parameters of the authors' networks at bird_attn2.yml, built from their own
# classes (shared/reference/authors_state_dicts/attngan_birds_*.json).
AUTHORS = {"G_NET": 7_084_592, "D_NET64": 6_313_730, "D_NET128": 19_424_002, "D_NET256": 71_858_946}


@pytest.fixture(scope="module")
def damsm(shapes32):
    return DAMSM(shapes32[3], image_encoder="small", image_size=32, seed=0)


@pytest.fixture(scope="module")
def small(damsm, shapes32):
    """A small AttnGAN (16 -> 32 px) trained one epoch on 128 shapes."""
    images, captions, _, vocab = shapes32
    keras.utils.set_random_seed(0)
    model = AttnGAN.from_preset("small", damsm=damsm, seed=0)
    model.compile()
    frozen = [keras.ops.convert_to_numpy(v).copy() for v in damsm.variables]
    generator = [keras.ops.convert_to_numpy(v).copy() for v in model.generator.trainable_variables]
    history = model.fit(make_dataset(images, captions, vocab, batch_size=32), epochs=1, verbose=0)
    return model, history, frozen, generator


@pytest.mark.once  # shapes are the same on every backend; JAX takes minutes to build these
def test_birds_parameter_counts_equal_the_authors(damsm):
    model = AttnGAN(damsm, text_batch_norm=False)
    assert model.image_size == 256 and model.stage_sizes == [64, 128, 256]
    assert trainable_count(model.generator) == AUTHORS["G_NET"]
    # the default adds a BatchNorm (γ, β) on the 256-d sentence vector (G alone is built: the
    # three Ds are 97 M weights more)
    with_norm = build_generator(
        model.noise_dim, 256, 256, model.max_length, model.gf, model.r_num, text_batch_norm=True
    )
    assert inspect.signature(AttnGAN).parameters["text_batch_norm"].default is True
    assert trainable_count(with_norm) == AUTHORS["G_NET"] + 2 * 256
    counts = [trainable_count(d) for d in model.discriminators]
    assert counts == [AUTHORS["D_NET64"], AUTHORS["D_NET128"], AUTHORS["D_NET256"]]
    coco = AttnGAN.from_preset("coco", damsm=damsm, stages=1)
    assert (coco.gf, coco.df, coco.r_num, coco.damsm_weight) == (48, 96, 3, 50.0)


def test_every_stage_and_attention_map(small):
    model = small[0]
    stages, maps = model.generate(
        ["a red circle", "a big blue square on the left"],
        seed=0,
        return_stages=True,
        return_attention=True,
    )
    assert {size: s.shape for size, s in stages.items()} == {16: (2, 16, 16, 3), 32: (2, 32, 32, 3)}
    assert all(s.dtype == np.uint8 for s in stages.values())
    assert len(maps) == 1 and maps[0].shape == (2, 18, 16, 16) and maps[0].dtype == np.float32
    np.testing.assert_allclose(maps[0].sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(maps[0][0, 3:] == 0.0)  # "a red circle" has 3 words; padding gets nothing
    images = model.generate(["a red circle"], seed=0)
    np.testing.assert_array_equal(images, stages[32][:1])


def test_damsm_stays_frozen_while_the_gan_trains(small, damsm, shapes32):
    model, history, frozen, generator = small
    assert set(history.history) == set(model.loss_names)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    for before, v in zip(frozen, damsm.variables):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(v))  # BN statistics too
    moved = [
        not np.array_equal(b, keras.ops.convert_to_numpy(v))
        for b, v in zip(generator, model.generator.trainable_variables)
    ]
    assert all(moved)
    damsm.compile()
    with pytest.raises(ValueError, match="DAMSM has nothing to train"):  # shared, frozen in place
        damsm.fit(make_dataset(*shapes32[:2], shapes32[3], batch_size=32), epochs=1, verbose=0)


def test_keras_round_trip_gives_identical_images_and_attention(small, tmp_path):
    again = assert_reload_gives_the_same(
        small[0],
        tmp_path / "attngan.keras",
        lambda m: m.generate(["a small green triangle"], seed=4, return_attention=True),
        rtol=1e-6,  # the attention maps; the uint8 images agree to the bit within it
    )
    assert isinstance(again.damsm, DAMSM)


@pytest.mark.once
def test_the_text_batch_norm_is_an_option_that_the_config_keeps(damsm):
    config = AttnGAN.from_preset("small", damsm=damsm, text_batch_norm=False).get_config()
    again = AttnGAN.from_config(config)
    assert not again.text_batch_norm
    assert "text_bn" not in [layer.name for layer in again.generator.layers]
    assert "text_bn" in [
        layer.name for layer in AttnGAN.from_preset("small", damsm=damsm).generator.layers
    ]


def test_long_captions_keep_their_first_words(small):
    model = small[0]
    long = "a red circle " + " ".join(["with a very long tail"] * 6)
    first = " ".join(long.split()[:18])
    np.testing.assert_array_equal(model.generate([long], seed=2), model.generate([first], seed=2))


def test_bad_inputs_are_named(damsm, tmp_path):
    with pytest.raises(ValueError, match="must be 32"):
        AttnGAN.from_preset("small", damsm=damsm, image_size=64)
    with pytest.raises(ValueError, match="vocabulary differs"):
        AttnGAN.from_preset("small", damsm=damsm, vocabulary=Vocabulary(["other", "words"]))
    with pytest.raises(ValueError, match="pretrained DAMSM"):
        AttnGAN.from_preset("small")
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        AttnGAN(str(tmp_path / "missing.keras"))
    with pytest.raises(ValueError, match="max_length from its DAMSM"):
        AttnGAN.from_preset("small", damsm=damsm, max_length=25)
    with pytest.raises(ValueError, match="power of two"):
        AttnGAN.from_preset("small", damsm=damsm, base_size=24)
    model = AttnGAN.from_preset("small", damsm=damsm)
    with pytest.raises(ValueError, match="needs the captions"):
        model.generate(embeddings=np.zeros((1, 256)))


@pytest.mark.once
def test_the_constructors_defaults_are_the_birds_preset():
    presets = AttnGAN.PRESETS
    parameters = inspect.signature(AttnGAN).parameters
    assert {key: parameters[key].default for key in presets["birds"]} == presets["birds"]
    assert all(set(settings) == set(presets["birds"]) for settings in presets.values())
    assert "preset" not in parameters


@pytest.mark.once
def test_the_authors_generator_moving_average_is_the_papers_presets_default(damsm):
    """(Averaging itself, for every GAN: test_stabilizers.py.)"""
    assert AttnGAN(damsm, stages=1).generator_ema == 0.999
    assert AttnGAN.from_preset("coco", damsm=damsm, stages=1).generator_ema == 0.999
    small = AttnGAN.from_preset("small", damsm=damsm)
    assert small.generator_ema is None
    small.compile()
    assert not small.g_optimizer.use_ema
