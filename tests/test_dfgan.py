"""DF-GAN: the authors' parameter counts and recipe, one step with MA-GP, saving, truncated
sampling, the text encoder options, bad input, and the converter of their checkpoints against
a PyTorch re-computation of their forward."""

import inspect

import keras
import numpy as np
import pytest
from conftest import authors_layout, fabricate_state_dict, trainable_count
from model_harness import assert_reload_gives_the_same

from gan_zoo import DAMSM, DFGAN, Vocabulary, convert, metrics
from gan_zoo.models.generation import truncate

pytestmark = pytest.mark.xdist_group("dfgan")  # module fixtures: one worker runs the file

# Trainable parameters of the authors' networks at cfg/bird.yml (nf 32, 256 px, 256-d
# sentences), built from their own classes (shared/reference/authors_state_dicts/dfgan_*.json).
AUTHORS = {"NetG": 9_744_131, "NetD": 6_619_206, "NetC": 295_936}
NETWORKS = {"netG": "NetG", "netD": "NetD", "netC": "NetC"}  # checkpoint key -> class
PROMPTS = ["a small red circle on the left", "a big blue square at the top"]


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def tiny(**kwargs):
    """A DF-GAN small enough to build and step in seconds (32 px, nf 4, 16-d embeddings)."""
    options = dict(embedding_dim=16, sentence_dim=16, nf=4, seed=0)
    return DFGAN.from_preset("small", **{**options, **kwargs})


@pytest.fixture(scope="module")
def damsm(shapes32):
    return DAMSM(shapes32[3], image_encoder="small", image_size=32, seed=0)


# ------------------------------------------------------------------ sizes and recipe
@pytest.mark.once  # shapes are the same on every backend
def test_birds_parameter_counts_equal_the_authors():
    model = DFGAN(embedding_dim=256)
    assert (model.image_size, model.nf, model.sentence_dim, model.noise_dim) == (256, 32, 256, 100)
    assert trainable_count(model.generator) == AUTHORS["NetG"]
    assert trainable_count(model.netc) == AUTHORS["NetC"]
    # NetD's blocks 3-5 hold 1x1 shortcuts they never run, as the authors' blocks do, who
    # count them: here they are frozen, as they never get a gradient
    frozen = sum(int(np.prod(v.shape)) for v in model.netd.non_trainable_weights)
    assert frozen == 3 * (256 * 256 + 256)
    assert trainable_count(model.netd) + frozen == AUTHORS["NetD"]


@pytest.mark.once
def test_the_blocks_start_as_the_authors_initialise_them():
    """Every affine starts as the identity (γ's last Linear 0 and 1, β's 0 and 0), every D
    block as its shortcut (γ = 0); the rest as PyTorch's default, U(±1/√fan_in)."""
    model = tiny()
    fusion = model.generator.get_layer("up_block0").fuse1.affine0
    assert np.all(numpy(fusion.gamma_2.kernel) == 0) and np.all(numpy(fusion.gamma_2.bias) == 1)
    assert np.all(numpy(fusion.beta_2.kernel) == 0) and np.all(numpy(fusion.beta_2.bias) == 0)
    hidden = numpy(fusion.gamma_1.kernel)  # fan_in: z (100) + sentence (16)
    assert 0.5 / np.sqrt(116) < np.abs(hidden).max() <= 1 / np.sqrt(116)
    gammas = [numpy(layer.gamma) for layer in model.netd.layers if hasattr(layer, "gamma")]
    assert len(gammas) == 3 and all(np.all(g == 0) for g in gammas)


@pytest.mark.once
def test_the_constructors_defaults_are_the_birds_preset_and_the_authors_recipe():
    presets = DFGAN.PRESETS
    parameters = inspect.signature(DFGAN).parameters
    assert {key: parameters[key].default for key in presets["birds"]} == presets["birds"]
    assert presets["coco"] == presets["birds"]  # the same networks, trained 301 epochs
    assert all(set(settings) == set(presets["birds"]) for settings in presets.values())
    model = tiny()
    assert model.remedies.adversarial_loss == "hinge" and model.remedies.ma_gp == 2.0
    assert model.logged_names[-1] == "d_ma_gp"
    model.compile()
    for optimizer, rate in ((model.g_optimizer, 1e-4), (model.d_optimizer, 4e-4)):
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert np.isclose(float(optimizer.learning_rate), rate)
        assert (optimizer.beta_1, optimizer.beta_2) == (0.0, 0.9)
    assert model.generator_ema is None  # the authors keep no average of G


# ------------------------------------------------------------------ training and saving
@pytest.fixture(scope="module")
def trained(damsm, shapes32):
    """A tiny DF-GAN over a frozen DAMSM, as the authors train, after two steps (the first
    moves D's block scales γ and G's affine heads off 0, the second everything behind them).
    At 64 px, where NetD's last block keeps the width and holds a shortcut it never runs."""
    images, captions, _, vocab = shapes32
    keras.utils.set_random_seed(0)
    model = DFGAN.from_preset("small", damsm=damsm, nf=4, sentence_dim=256, image_size=64, seed=0)
    model.compile()
    before = [numpy(v).copy() for v in model.variables]
    encoder = [numpy(v).copy() for v in damsm.text_encoder.variables]
    batch = {
        "images": np.repeat(np.repeat(images[:8], 2, 1), 2, 2).astype("float32") / 127.5 - 1,
        "tokens": vocab.encode([c[0] for c in captions[:8]], model.max_length),
    }
    history = model.fit(batch, batch_size=4, epochs=1, verbose=0, shuffle=False)
    return model, before, encoder, history


def test_two_steps_with_ma_gp_train_g_d_and_c_and_leave_the_damsm_frozen(trained, damsm):
    model, before, encoder, history = trained
    assert set(history.history) == set(model.logged_names) and "d_ma_gp" in history.history
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert history.history["d_ma_gp"][-1] > 0
    moved = {id(v): not np.array_equal(b, numpy(v)) for b, v in zip(before, model.variables)}
    for part in (model.generator, model.netd, model.netc):
        still = [v.path for v in part.trainable_variables if not moved[id(v)]]
        assert not still, part.name
    frozen = model.netd.get_layer("down_block3").shortcut.weights  # 32 -> 32 channels
    assert [id(v) for v in frozen] == [id(v) for v in model.netd.non_trainable_weights]
    assert not any(moved[id(v)] for v in frozen)
    for b, v in zip(encoder, damsm.text_encoder.variables):  # the DAMSM's, not trained here
        np.testing.assert_array_equal(b, numpy(v))
    assert int(model.g_optimizer.iterations) == int(model.d_optimizer.iterations) == 2


def test_keras_round_trip_gives_identical_images(trained, tmp_path):
    again = assert_reload_gives_the_same(
        trained[0],
        tmp_path / "dfgan.keras",
        lambda m: [m.generate(PROMPTS, seed=7), m.generate(PROMPTS, seed=7, truncation=0.88)],
    )
    # the DAMSM's text encoder comes back inside the model, still frozen
    assert not again.train_text_encoder and not again.text_encoder.trainable
    assert (again.nf, again.sentence_dim, again.remedies.ma_gp) == (4, 256, 2.0)
    assert len(again.netd.non_trainable_weights) == 2  # the never-run shortcut stays frozen


def test_a_step_with_similar_wrong_pairs_trains_and_keeps_the_option(damsm, shapes32):
    """DF-GAN takes its wrong pairs from NetD's features of the real images, reordered."""
    images, captions, _, vocab = shapes32
    model = DFGAN.from_preset(
        "small", damsm=damsm, nf=4, sentence_dim=256, seed=0, wrong_pairs="similar"
    )
    model.compile()
    batch = {
        "images": images[:8].astype("float32") / 127.5 - 1,
        "tokens": vocab.encode([c[0] for c in captions[:8]], model.max_length),
    }
    history = model.fit(batch, batch_size=8, epochs=1, verbose=0).history
    assert all(np.isfinite(values[-1]) for values in history.values()), history
    assert history["d_wrong"][-1] > 0 and model.get_config()["wrong_pairs"] == "similar"


def test_a_bad_batch_is_named(trained, shapes32):
    images, captions, _, vocab = shapes32
    model = trained[0]
    tokens = vocab.encode([c[0] for c in captions[:4]], model.max_length)
    wrong_size = {"images": images[:4] / 127.5 - 1, "tokens": tokens}
    with pytest.raises(ValueError, match=r"64, 64, 3.*image_size=32"):
        model.fit(wrong_size, batch_size=4, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="needs the batch entry 'tokens'"):
        model.fit({"images": np.zeros((4, 64, 64, 3))}, batch_size=4, epochs=1, verbose=0)


# ------------------------------------------------------------------ sampling
@pytest.mark.once
def test_truncated_noise_is_the_authors_cut_normal():
    noise = np.random.default_rng(0).standard_normal((4000, 100))
    cut = truncate(noise, 0.88)
    assert cut.dtype == np.float32 and np.abs(cut).max() <= 2 * 0.88
    # N(0, 1) cut at ±2 has standard deviation 0.8796; its values keep their order and sign
    assert abs(cut.std() / 0.88 - 0.8796) < 0.005 and abs(cut.mean()) < 0.01
    assert np.array_equal(np.argsort(cut[0]), np.argsort(noise[0]))


@pytest.mark.once
def test_generate_with_truncation_draws_from_the_cut_noise():
    model = tiny()
    embeddings = np.random.default_rng(0).standard_normal((2, 16)).astype("float32")
    images = model.generate(embeddings=embeddings, seed=3, truncation=0.5)
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(
        images, model.generate(embeddings=embeddings, seed=3, truncation=0.5)
    )
    assert not np.array_equal(images, model.generate(embeddings=embeddings, seed=3))
    for bad in (0, -0.88, float("inf"), float("nan"), "0.88", True):
        with pytest.raises(ValueError, match=r"truncation must be a number > 0.*0\.88"):
            model.generate(embeddings=embeddings, truncation=bad)


def test_evaluate_draws_as_the_authors_do_with_noise_truncated_at_0_88(trained, shapes32):
    model = trained[0]
    images, captions, _, _ = shapes32
    data = {"images": np.repeat(np.repeat(images[:16], 2, 1), 2, 2), "captions": captions[:16]}

    def fid(truncation):
        report = metrics.evaluate(
            model,
            data,
            metrics=["fid"],
            num_samples=16,
            feature_extractor=metrics.pixels(),
            truncation=truncation,
            verbose=False,
        )
        return report["fid"], report["protocol"]["truncation"]

    authors = fid("authors")
    assert authors == fid(0.88) and authors[1] == 0.88
    assert fid(None)[0] != authors[0]


# ------------------------------------------------------------------ text encoders, bad input
@pytest.mark.once
def test_the_text_encoder_options(damsm, shapes32):
    vocab = shapes32[3]
    own = DFGAN.from_preset("small", vocabulary=vocab, nf=4, sentence_dim=32)
    assert own.text_encoder.output_dim == 32 and own.train_text_encoder
    ids = {id(v) for v in own.discriminator_variables}
    assert all(id(v) in ids for v in own.text_encoder.trainable_variables)  # trained by D
    shared = DFGAN.from_preset("small", damsm=damsm, nf=4, sentence_dim=256)
    assert shared.text_encoder is damsm.text_encoder and not shared.text_encoder.trainable
    assert shared.vocabulary == damsm.vocabulary and shared.max_length == damsm.max_length
    assert tiny().text_encoder is None and tiny().condition_dim == 16


@pytest.mark.once
def test_bad_arguments_are_named(damsm, shapes32):
    for size in (16, 48, 100):
        with pytest.raises(ValueError, match=f"power of two of at least 32.*got {size}"):
            tiny(image_size=size)
    with pytest.raises(ValueError, match=r"of its DAMSM are 256-d: build it with sentence_dim=256"):
        DFGAN.from_preset("small", damsm=damsm)  # the small preset's sentences are 64-d
    with pytest.raises(ValueError, match="of its embeddings are 24-d.*sentence_dim=24"):
        tiny(embedding_dim=24)
    with pytest.raises(ValueError, match="vocabulary differs from the DAMSM's"):
        DFGAN(damsm=damsm, vocabulary=Vocabulary(["other", "words"]))
    with pytest.raises(ValueError, match="takes max_length from its DAMSM"):
        DFGAN(damsm=damsm, max_length=12)
    with pytest.raises(ValueError, match="DF-GAN needs damsm=, a pretrained DAMSM.*got Vocabulary"):
        DFGAN(damsm=shapes32[3])
    with pytest.raises(ValueError, match="hinge' takes no label_smoothing"):
        tiny(label_smoothing=0.1)


# ------------------------------------------------------------------ the authors' checkpoints
def authors_layout_at(nf, image_size, noise_dim=100, sentence_dim=256):
    """{network: {name: shape}} of the authors' NetG, NetD and NetC at any size, written from
    their modules' naming; at their birds config it must equal the listing of their classes."""
    widths = [nf * min(2**k, 8) for k in range(int(np.log2(image_size)) - 1)]
    up = widths[::-1]
    g = {"fc.weight": [16 * up[0], noise_dim], "fc.bias": [16 * up[0]]}
    for i, (cin, cout) in enumerate(zip(up, up[1:])):
        p = f"GBlocks.{i}"
        g.update({f"{p}.c1.weight": [cout, cin, 3, 3], f"{p}.c1.bias": [cout]})
        g.update({f"{p}.c2.weight": [cout, cout, 3, 3], f"{p}.c2.bias": [cout]})
        for fuse, ch in (("fuse1", cin), ("fuse2", cout)):
            for affine in ("affine0", "affine1"):
                for mlp in ("fc_gamma", "fc_beta"):
                    q = f"{p}.{fuse}.{affine}.{mlp}"
                    g.update({f"{q}.linear1.weight": [ch, noise_dim + sentence_dim]})
                    g.update({f"{q}.linear1.bias": [ch], f"{q}.linear2.weight": [ch, ch]})
                    g.update({f"{q}.linear2.bias": [ch]})
        if cin != cout:
            g.update({f"{p}.c_sc.weight": [cout, cin, 1, 1], f"{p}.c_sc.bias": [cout]})
    g.update({"to_rgb.1.weight": [3, nf, 3, 3], "to_rgb.1.bias": [3]})
    d = {"conv_img.weight": [nf, 3, 3, 3], "conv_img.bias": [nf]}
    for i, (cin, cout) in enumerate(zip(widths, widths[1:])):
        p = f"DBlocks.{i}"
        d.update({f"{p}.gamma": [1], f"{p}.conv_r.0.weight": [cout, cin, 4, 4]})
        d.update({f"{p}.conv_r.2.weight": [cout, cout, 3, 3]})
        d.update({f"{p}.conv_s.weight": [cout, cin, 1, 1], f"{p}.conv_s.bias": [cout]})
    c = {
        "joint_conv.0.weight": [2 * nf, 8 * nf + sentence_dim, 3, 3],
        "joint_conv.2.weight": [1, 2 * nf, 4, 4],
    }
    return {"netG": g, "netD": d, "netC": c}


def fabricate_checkpoint(layout, prefix=""):
    """A state_epoch_N.pth's content with random tensors; D's block scales γ (0 when training
    starts) drawn near 1, so that their residual branches count."""
    import torch

    model = {
        network: fabricate_state_dict(shapes, seed, prefix=prefix)
        for seed, (network, shapes) in enumerate(layout.items())
    }
    scales = np.random.default_rng(0).uniform(0.5, 1.0, len(model["netD"]))
    for key, scale in zip(list(model["netD"]), scales):
        if key.endswith(".gamma"):
            model["netD"][key] = torch.tensor([scale], dtype=torch.float32)
    return {"model": model, "epoch": 1220}


def authors_forward(s, z, sentence, image):
    """NetG(z, sentence), and NetC(NetD(image), sentence), written from the paper and the
    authors' module list with torch.nn.functional, NCHW."""
    import torch
    import torch.nn.functional as F

    lrelu = lambda x: F.leaky_relu(x, 0.2)  # noqa: E731
    g, d, c = s["netG"], s["netD"], s["netC"]

    def conv(x, params, p, **kw):
        return F.conv2d(x, params[f"{p}.weight"], params.get(f"{p}.bias"), **kw)

    def affine(x, p, cond):
        def mlp(q):
            hidden = F.relu(F.linear(cond, g[f"{q}.linear1.weight"], g[f"{q}.linear1.bias"]))
            return F.linear(hidden, g[f"{q}.linear2.weight"], g[f"{q}.linear2.bias"])

        return mlp(f"{p}.fc_gamma")[:, :, None, None] * x + mlp(f"{p}.fc_beta")[:, :, None, None]

    def fuse(x, p, cond):
        return lrelu(affine(lrelu(affine(x, f"{p}.affine0", cond)), f"{p}.affine1", cond))

    cond = torch.cat([z, sentence], 1)
    h = F.linear(z, g["fc.weight"], g["fc.bias"]).view(len(z), -1, 4, 4)
    i = 0
    while f"GBlocks.{i}.c1.weight" in g:
        p = f"GBlocks.{i}"
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        r = conv(fuse(h, f"{p}.fuse1", cond), g, f"{p}.c1", padding=1)
        r = conv(fuse(r, f"{p}.fuse2", cond), g, f"{p}.c2", padding=1)
        h = (conv(h, g, f"{p}.c_sc") if f"{p}.c_sc.weight" in g else h) + r
        i += 1
    fake = torch.tanh(conv(lrelu(h), g, "to_rgb.1", padding=1))
    x = conv(image, d, "conv_img", padding=1)
    i = 0
    while f"DBlocks.{i}.gamma" in d:
        p = f"DBlocks.{i}"
        r = lrelu(
            conv(
                lrelu(conv(x, d, f"{p}.conv_r.0", stride=2, padding=1)),
                d,
                f"{p}.conv_r.2",
                padding=1,
            )
        )
        widens = d[f"{p}.conv_r.0.weight"].shape[0] != x.shape[1]
        x = F.avg_pool2d(conv(x, d, f"{p}.conv_s") if widens else x, 2) + d[f"{p}.gamma"] * r
        i += 1
    tiled = sentence[:, :, None, None].expand(-1, -1, 4, 4)
    logit = conv(
        lrelu(conv(torch.cat([x, tiled], 1), c, "joint_conv.0", padding=1)), c, "joint_conv.2"
    )
    return fake, logit.reshape(len(z), 1)


@pytest.mark.once
def test_the_layout_the_tests_write_is_the_authors():
    layout = authors_layout_at(32, 256)
    for network, name in NETWORKS.items():
        listed = authors_layout(f"dfgan_birds_{name}")
        assert list(layout[network].items()) == list(listed["state_dict"].items()), name
        assert listed["trainable_params"] == AUTHORS[name]


def test_converted_networks_compute_the_authors_forward():
    """At 64 px (the birds widths, four blocks each way): the same images for the same z and
    sentence, and the same D(image, sentence) logits, to float32 rounding."""
    import torch

    checkpoint = fabricate_checkpoint(authors_layout_at(32, 64))
    model = convert.dfgan_from_authors(checkpoint, embedding_dim=256, image_size=64)
    rng = np.random.default_rng(1)
    z, sentence = (rng.standard_normal((2, n)).astype("float32") for n in (100, 256))
    image = rng.uniform(-1, 1, (2, 3, 64, 64)).astype("float32")
    with torch.no_grad():
        fake, logit = authors_forward(
            checkpoint["model"], *(torch.from_numpy(a) for a in (z, sentence, image))
        )
    images = numpy(model.generator([z, sentence], training=False))
    np.testing.assert_allclose(images, fake.permute(0, 2, 3, 1).numpy(), atol=2e-5)
    logits = numpy(model.discriminator([image.transpose(0, 2, 3, 1), sentence], training=False))
    np.testing.assert_allclose(logits, logit.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.once
def test_a_birds_checkpoint_converts_with_every_name_and_shape_checked(damsm, tmp_path):
    """The authors' full layout at 256 px, saved under DDP (`module.` prefixes), as a .pth."""
    import torch

    checkpoint = fabricate_checkpoint(authors_layout_at(32, 256), prefix="module.")
    path = tmp_path / "state_epoch_1220.pth"
    torch.save(checkpoint, path)
    model = convert.dfgan_from_authors(str(path), damsm=damsm)
    assert model.text_encoder is damsm.text_encoder and not model.text_encoder.trainable
    g, d = checkpoint["model"]["netG"], checkpoint["model"]["netD"]
    np.testing.assert_array_equal(
        numpy(model.generator.get_layer("up_block5").shortcut.kernel)[0, 0],
        g["module.GBlocks.5.c_sc.weight"].numpy()[:, :, 0, 0].T,
    )
    block = model.netd.get_layer("down_block5")  # its saved, never run shortcut too
    np.testing.assert_array_equal(numpy(block.gamma), d["module.DBlocks.5.gamma"].numpy())
    np.testing.assert_array_equal(
        numpy(block.shortcut.bias), d["module.DBlocks.5.conv_s.bias"].numpy()
    )


@pytest.mark.once
def test_a_checkpoint_of_another_network_or_size_is_refused_by_name():
    """(At 32 px, where the models build fast; the birds layout loads above.)"""
    layout = authors_layout_at(32, 32)
    options = dict(embedding_dim=256, image_size=32)
    swapped = dict(layout, netG=layout["netD"], netD=layout["netG"])
    with pytest.raises(KeyError, match="has no 'fc.weight': it is not a DF-GAN netG"):
        convert.dfgan_from_authors(fabricate_checkpoint(swapped), **options)
    larger = fabricate_checkpoint(authors_layout_at(32, 64))  # one more block at 256 channels
    with pytest.raises(ValueError, match=r"'GBlocks\.0\.c1\.weight' has shape.*check the preset"):
        convert.dfgan_from_authors(larger, **options)
    extra = fabricate_checkpoint(layout)
    extra["model"]["netC"]["joint_conv.0.bias"] = extra["model"]["netC"]["joint_conv.2.weight"]
    with pytest.raises(ValueError, match="tensors a DF-GAN netC .*first 'joint_conv.0.bias'"):
        convert.dfgan_from_authors(extra, **options)
    with pytest.raises(KeyError, match="has no netC"):
        convert.dfgan_from_authors({"netG": {}, "netD": {}}, **options)
