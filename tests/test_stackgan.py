import inspect

import keras
import numpy as np
import pytest
from conftest import trainable_count
from model_harness import assert_reload_gives_the_same

from gan_zoo import StackGAN, Vocabulary, losses
from gan_zoo.data import make_dataset
from gan_zoo.models.presets import preset_settings

pytestmark = pytest.mark.xdist_group("stackgan")  # module fixtures: one worker runs the file

# Trainable parameters of the authors' StackGAN-Pytorch networks at the birds config, built
# from their own classes (shared/reference/authors_state_dicts/stackgan_birds_*.json).
AUTHORS = {
    "STAGE1_G": 10_301_248,
    "STAGE1_D": 5_715_713,
    "STAGE2_G": 26_290_080,
    "STAGE2_D": 71_269_122,
}


@pytest.mark.once
def test_birds_parameter_counts_equal_the_authors_pytorch_models():
    """Conditioned on 1,024-d embeddings as the authors were: Stage-I G 10,301,248 / D 5,715,713,
    Stage-II G 26,290,080 trainable (Stage-I frozen inside) / D 71,269,122."""
    stage1 = StackGAN(embedding_dim=1024, stage=1)
    assert trainable_count(stage1.generator) == AUTHORS["STAGE1_G"]
    assert trainable_count(stage1.discriminator) == AUTHORS["STAGE1_D"]
    stage2 = StackGAN(stage=2, stage1=stage1)
    assert trainable_count(stage2.generator) == AUTHORS["STAGE2_G"]
    assert trainable_count(stage2.discriminator) == AUTHORS["STAGE2_D"]


@pytest.mark.once
def test_coco_stage1_parameter_counts():
    """Reference §8: StackGAN-Pytorch COCO Stage-I (GF 192, DF 96) G 20,020,832 / D 12,407,425."""
    stage1 = StackGAN.from_preset("coco", embedding_dim=1024, stage=1)
    assert trainable_count(stage1.generator) == 20_020_832
    assert trainable_count(stage1.discriminator) == 12_407_425


@pytest.fixture(scope="module")
def stages(shapes32):
    """A small Stage-I (32 px) trained one epoch, and a Stage-II (64 px) on top of it."""
    images, captions, _, vocab = shapes32
    keras.utils.set_random_seed(0)
    stage1 = StackGAN.from_preset("small", vocabulary=vocab, image_size=32, seed=0)
    stage1.compile()
    stage1.fit(make_dataset(images, captions, vocab, batch_size=32), epochs=1, verbose=0)
    stage2 = StackGAN(stage=2, stage1=stage1, seed=0)
    stage2.compile()
    return stage1, stage2


def test_output_shapes_per_stage(stages):
    stage1, stage2 = stages
    assert stage2.image_size == 128  # 4x Stage-I by default
    one = stage1.generate(["a red circle", "a blue square"], seed=0, num_per_caption=2)
    assert one.shape == (4, 32, 32, 3) and one.dtype == np.uint8
    both = stage2.generate(["a red circle"], seed=0, return_stages=True)
    assert both[32].shape == (1, 32, 32, 3) and both[128].shape == (1, 128, 128, 3)
    assert both[128].dtype == np.uint8
    # Stage-II refines exactly the sketch Stage-I draws for the same seed
    np.testing.assert_array_equal(both[32], stage1.generate(["a red circle"], seed=0))


def test_stage2_conditioning_starts_from_stage1s(stages):
    stage1, stage2 = stages
    for name in ("text_bn", "ca"):
        for a, b in zip(
            stage1.generator.get_layer(name).weights, stage2.generator.get_layer(name).weights
        ):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
            )
    fresh = StackGAN(stage=2, stage1=stage1, seed=0, start_from_stage1_conditioning=False)
    assert not np.array_equal(
        keras.ops.convert_to_numpy(fresh.generator.get_layer("ca").weights[0]),
        keras.ops.convert_to_numpy(stage1.generator.get_layer("ca").weights[0]),
    )
    assert not fresh.get_config()["start_from_stage1_conditioning"]


def test_stage1_stays_frozen_while_stage2_trains(stages, shapes32):
    stage1, stage2 = stages
    images, captions, _, vocab = shapes32
    frozen = [keras.ops.convert_to_numpy(v).copy() for v in stage1.generator.variables]
    encoder = [keras.ops.convert_to_numpy(v).copy() for v in stage2.text_encoder.variables]
    trained = [keras.ops.convert_to_numpy(v).copy() for v in stage2.generator.trainable_variables]
    big = np.repeat(np.repeat(images, 4, axis=1), 4, axis=2)
    history = stage2.fit(make_dataset(big, captions, vocab, batch_size=32), epochs=1, verbose=0)
    assert set(history.history) == set(stage2.loss_names)
    for before, v in zip(frozen, stage1.generator.variables):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(v))  # BN statistics too
    for before, v in zip(encoder, stage2.text_encoder.variables):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(v))
    changed = [
        not np.array_equal(b, keras.ops.convert_to_numpy(v))
        for b, v in zip(trained, stage2.generator.trainable_variables)
    ]
    assert all(changed)
    with pytest.raises(
        ValueError, match="nothing to train in its generator"
    ):  # shared, frozen in place
        stage1.fit(make_dataset(images, captions, vocab, batch_size=32), epochs=1, verbose=0)


def test_keras_round_trip_of_both_stages(stages, tmp_path):
    for model in stages:
        again = assert_reload_gives_the_same(
            model,
            tmp_path / f"stage{model.stage}.keras",
            lambda m: m.generate(["a small red circle"], seed=3, return_stages=True),
        )
        assert again.stage == model.stage


def test_stage2_trains_from_a_saved_stage1_file(stages, tmp_path):
    stage1 = stages[0]
    stage1.save(tmp_path / "stage1.keras")
    stage2 = StackGAN(stage=2, stage1=str(tmp_path / "stage1.keras"), image_size=64)
    assert stage2.vocabulary == stage1.vocabulary and stage2.image_size == 64
    np.testing.assert_array_equal(
        stage2.generate(["a green triangle"], seed=1, return_stages=True)[32],
        stage1.generate(["a green triangle"], seed=1),
    )


def test_stage2_discriminator_loss_weights():
    real, wrong, fake = (
        np.array([1.0], "float32"),
        np.array([0.2], "float32"),
        np.array([-0.5], "float32"),
    )
    real_u, fake_u = np.array([2.0], "float32"), np.array([-1.0], "float32")
    total, parts = losses.conditional_and_unconditional_discriminator_loss(
        real, wrong, fake, real_u, fake_u
    )
    sp = lambda x: float(np.log1p(np.exp(x)))  # noqa: E731
    expected = (sp(-1.0) + sp(-2.0)) / 2 + (sp(-0.5) + sp(0.2) + sp(-1.0)) / 3
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(total)), expected, rtol=1e-6)
    assert set(parts) == {"d_real", "d_wrong", "d_fake", "d_real_uncond", "d_fake_uncond"}


def settings(model):
    return {key: getattr(model, key) for key in ("gf", "df", "c_dim", "r_num", "lr_decay_every")}


@pytest.mark.once
def test_stage1s_defaults_are_the_birds_preset():
    """The widths and schedule default to None, which resolves by stage (a Stage-II takes its
    Stage-I's): a Stage-I built without them has the birds preset's settings."""
    parameters = inspect.signature(StackGAN).parameters
    stage1 = StackGAN(embedding_dim=8, image_size=16)
    assert all(parameters[key].default is None for key in settings(stage1))
    assert parameters["kl_weight"].default == 2.0 and "preset" not in parameters
    assert settings(stage1) == preset_settings(StackGAN, "birds", part="stage1")
    assert settings(StackGAN.from_preset("birds", embedding_dim=8, image_size=16)) == settings(
        stage1
    )


@pytest.mark.once
@pytest.mark.parametrize("name", ["birds", "coco", "small"])
def test_a_stage2_on_a_presets_stage1_has_that_presets_stage2_settings(name):
    """Without settings of its own, Stage-II takes them from its Stage-I (see StackGAN's gf
    and lr_decay_every): on a preset's Stage-I, what `from_preset(name, stage=2)` gives."""
    stage1 = StackGAN.from_preset(name, embedding_dim=8, image_size=16)
    preset = StackGAN.from_preset(name, stage=2, stage1=stage1, image_size=32)
    assert settings(preset) == preset_settings(StackGAN, name, part="stage2")
    assert settings(StackGAN(stage=2, stage1=stage1, image_size=32)) == settings(preset)
    assert "preset" not in preset.get_config()


@pytest.mark.once
def test_presets_and_schedule():
    vocab = Vocabulary.build(["a red circle"])
    birds = StackGAN(vocabulary=vocab)
    assert (birds.gf, birds.df, birds.c_dim, birds.r_num, birds.kl_weight) == (128, 64, 128, 4, 2.0)
    assert birds.lr_decay_every == 50 and birds.lr_decay_offset == 0
    coco = StackGAN.from_preset("coco", vocabulary=vocab, image_size=64)
    assert (coco.gf, coco.df, coco.r_num, coco.lr_decay_every) == (192, 96, 2, 20)  # coco_s1.yml
    assert StackGAN(stage=2, stage1=coco).lr_decay_every == 20  # coco_s2.yml
    assert (
        StackGAN(stage=2, stage1=StackGAN.from_preset("small", vocabulary=vocab)).lr_decay_every
        == 100
    )
    small = StackGAN.from_preset("small", vocabulary=vocab, image_size=16)
    assert StackGAN(stage=2, stage1=small, r_num=0).r_num == 0  # an override of 0 is kept
    assert StackGAN(stage=2, stage1=small).gf == 64  # the small preset's Stage-II width


def test_bad_inputs_are_named(stages):
    stage1 = stages[0]
    with pytest.raises(ValueError, match="stage1="):
        StackGAN(stage=2)
    with pytest.raises(ValueError, match="embedding_dim=1024"):
        StackGAN(stage=2, stage1=stage1, embedding_dim=1024)
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        StackGAN(stage=2, stage1="missing.keras")
    with pytest.raises(ValueError, match="power of two"):
        StackGAN(stage=2, stage1=stage1, image_size=96)
    embedded = StackGAN.from_preset("small", embedding_dim=24)
    with pytest.raises(ValueError, match="embeddings="):
        embedded.generate(["a red circle"])
    with pytest.raises(ValueError, match=r"\[N, 24\]"):
        embedded.generate(embeddings=np.zeros((2, 10)))
    with pytest.raises(ValueError, match="stage must be"):
        StackGAN(embedding_dim=24, stage=3)
