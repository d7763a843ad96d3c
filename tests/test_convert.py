"""Converters of the authors' checkpoints: fabricated state dicts with the real names and
shapes (tests/data/authors_state_dicts, listed from the authors' own classes) land tensor by
tensor where a PyTorch re-computation of the authors' forward says they must."""

import pickle

import keras
import numpy as np
import pytest
from conftest import authors_layout, fabricate_state_dict

from gan_zoo import DAMSM, Vocabulary, convert

pytestmark = pytest.mark.xdist_group("convert")  # module fixtures: one worker runs the file

torch = pytest.importorskip("torch")
F = torch.nn.functional


def fabricate(network, seed=0, prefix=""):
    return fabricate_state_dict(authors_layout(network)["state_dict"], seed, prefix=prefix)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


# ------------------------------------------------------------------ text encoder
def authors_vocabulary(n_words):
    words = ["<end>"] + [f"w{i}" for i in range(1, n_words)]
    return Vocabulary.from_authors(dict(enumerate(words)))


def lstm_direction(x, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's LSTM equations (gates i, f, g, o) over x [T, D]: every hidden state."""
    hidden = w_hh.shape[1]
    h, c, out = np.zeros(hidden), np.zeros(hidden), []
    for x_t in x:
        gates = w_ih @ x_t + b_ih + w_hh @ h + b_hh
        i, f, g, o = np.split(gates, 4)
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        out.append(h)
    return np.array(out)


def test_text_encoder_equals_pytorch_lstm_equations():
    state = fabricate("attngan_birds_RNN_ENCODER")
    vocabulary = authors_vocabulary(5450)
    encoder = convert.text_encoder_from_authors(state, vocabulary)
    tokens = np.array([[5, 17, 4000, 9, 0, 0]], "int32")
    words, sentence, _ = (numpy(t) for t in encoder(tokens))
    s = {k: v.numpy().astype("float64") for k, v in state.items()}
    x = s["encoder.weight"][tokens[0, :4]]
    forward = lstm_direction(
        x, *(s[f"rnn.{n}_l0"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    )
    backward = lstm_direction(
        x[::-1],
        *(s[f"rnn.{n}_l0_reverse"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
    )[::-1]
    np.testing.assert_allclose(words[0, :4], np.concatenate([forward, backward], 1), atol=2e-5)
    assert np.all(words[0, 4:] == 0)
    np.testing.assert_allclose(sentence[0], np.concatenate([forward[-1], backward[0]]), atol=2e-5)


@pytest.mark.once
def test_authors_vocabulary_keeps_their_ids_and_drops_unknown_words(tmp_path):
    ixtoword = {0: "<end>", 1: "this", 2: "bird", 3: "red"}
    path = tmp_path / "captions.pickle"
    with open(path, "wb") as f:
        pickle.dump(
            [[[1, 2]], [[2, 3]], ixtoword, {w: i for i, w in ixtoword.items()}], f, protocol=2
        )
    vocabulary = convert.vocabulary_from_captions_pickle(str(path))
    assert len(vocabulary) == 4 and vocabulary.words[1:] == ["this", "bird", "red"]
    assert vocabulary.encode("this zebra bird is red", max_length=5).tolist() == [[1, 2, 3, 0, 0]]
    restored = Vocabulary.from_config(vocabulary.get_config())
    assert restored == vocabulary and restored.oov_id is None
    with pytest.raises(ValueError, match="no word this vocabulary knows"):
        vocabulary.encode("zebra")


@pytest.mark.once
def test_dfgan_text_encoder_loads_with_its_ddp_prefix():
    state = fabricate("dfgan_birds_RNN_ENCODER", prefix="module.")
    encoder = convert.text_encoder_from_authors(state, authors_vocabulary(5450))
    np.testing.assert_array_equal(
        numpy(encoder.embedding.embeddings), state["module.encoder.weight"].numpy()
    )


@pytest.mark.once
def test_text_encoder_errors_name_the_problem():
    state = fabricate("attngan_birds_RNN_ENCODER")
    with pytest.raises(ValueError, match="embeds 5450 words but the vocabulary has 10"):
        convert.text_encoder_from_authors(state, authors_vocabulary(10))
    extra = dict(state, **{"rnn.weight_ih_l1": torch.zeros(4)})
    with pytest.raises(ValueError, match="first 'rnn.weight_ih_l1'"):
        convert.text_encoder_from_authors(extra, authors_vocabulary(5450))
    missing = {k: v for k, v in state.items() if k != "rnn.bias_hh_l0_reverse"}
    with pytest.raises(KeyError, match="rnn.bias_hh_l0_reverse"):
        convert.text_encoder_from_authors(missing, authors_vocabulary(5450))


# ------------------------------------------------------------------ AttnGAN G_NET
def authors_attngan_forward(s, z, sentence, words, mask, eps, stages, r_num, up_steps):
    """G_NET's forward written from the paper and the authors' module list, in PyTorch."""

    def bn(x, p):
        return F.batch_norm(
            x,
            s[f"{p}.running_mean"],
            s[f"{p}.running_var"],
            s[f"{p}.weight"],
            s[f"{p}.bias"],
            False,
            0.0,
            1e-5,
        )

    def glu(x):
        return x[:, : x.shape[1] // 2] * torch.sigmoid(x[:, x.shape[1] // 2 :])

    def conv(x, p):
        return F.conv2d(x, s[f"{p}.weight"], padding=1)

    def up(x, p):
        return glu(bn(conv(F.interpolate(x, scale_factor=2, mode="nearest"), f"{p}.1"), f"{p}.2"))

    ca = glu(F.linear(sentence, s["ca_net.fc.weight"], s["ca_net.fc.bias"]))
    mu, logvar = ca[:, :100], ca[:, 100:]
    c = mu + torch.exp(0.5 * logvar) * eps
    h = glu(bn(F.linear(torch.cat([c, z], 1), s["h_net1.fc.0.weight"]), "h_net1.fc.1")).view(
        len(z), -1, 4, 4
    )
    for k in range(1, up_steps + 1):
        h = up(h, f"h_net1.upsample{k}")
    images = [torch.tanh(conv(h, "img_net1.img.0"))]
    for stage in range(2, stages + 1):
        net = f"h_net{stage}"
        source = torch.einsum("oc,btc->bot", s[f"{net}.att.conv_context.weight"][:, :, 0, 0], words)
        b, channels, height, width = h.shape
        scores = torch.bmm(h.view(b, channels, -1).transpose(1, 2), source)
        attention = scores.masked_fill(~mask[:, None, :], float("-inf")).softmax(-1)
        context = torch.bmm(source, attention.transpose(1, 2)).view(b, channels, height, width)
        h = torch.cat([h, context], 1)
        for r in range(r_num):
            p = f"{net}.residual.{r}.block"
            h = h + bn(conv(glu(bn(conv(h, f"{p}.0"), f"{p}.1")), f"{p}.3"), f"{p}.4")
        h = up(h, f"{net}.upsample")
        images.append(torch.tanh(conv(h, f"img_net{stage}.img.0")))
    return [image.permute(0, 2, 3, 1).numpy() for image in images]


@pytest.fixture(scope="module")
def small_damsm(shapes32):
    return DAMSM(shapes32[3], image_encoder="small", image_size=32, seed=0)


def test_attngan_birds_generator_equals_the_authors_forward(small_damsm):
    state = fabricate("attngan_birds_G_NET")
    model = convert.attngan_from_authors(state, damsm=small_damsm, preset="birds")
    rng = np.random.default_rng(0)
    z, sentence, eps = (rng.standard_normal((2, n)).astype("float32") for n in (100, 256, 100))
    words = rng.standard_normal((2, 18, 256)).astype("float32")
    mask = np.zeros((2, 18), bool)
    mask[0, :7], mask[1, :12] = True, True
    outputs = model.generator(
        [z, sentence, words * mask[..., None], mask.astype("float32"), eps], training=False
    )
    with torch.no_grad():
        expected = authors_attngan_forward(
            state,
            *(torch.from_numpy(a) for a in (z, sentence)),
            torch.from_numpy(words * mask[..., None]),
            torch.from_numpy(mask),
            torch.from_numpy(eps),
            stages=3,
            r_num=2,
            up_steps=4,
        )
    for got, want in zip(outputs[:3], expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(numpy(got), want, atol=2e-4)


@pytest.mark.once
def test_attngan_coco_checkpoint_in_a_birds_model_names_the_first_misfit(small_damsm):
    # the misfit is in the first stage: a one-stage birds model finds it without building 256 px
    with pytest.raises(ValueError, match=r"h_net1\.fc\.0\.weight.*check the preset"):
        convert.attngan_from_authors(
            fabricate("attngan_coco_G_NET"), damsm=small_damsm, preset="birds", stages=1
        )


# ------------------------------------------------------------------ StackGAN
def authors_stackgan_forward(s, z, embedding, eps1, eps2=None):
    """STAGE1_G (and with eps2, STAGE2_G over it) written from the authors' module list."""

    def bn(x, p):
        return F.batch_norm(
            x,
            s[f"{p}.running_mean"],
            s[f"{p}.running_var"],
            s[f"{p}.weight"],
            s[f"{p}.bias"],
            False,
            0.0,
            1e-5,
        )

    def conv(x, p, stride=1):
        return F.conv2d(x, s[f"{p}.weight"], stride=stride, padding=1)

    def ca(p, eps):
        x = F.relu(F.linear(embedding, s[f"{p}ca_net.fc.weight"], s[f"{p}ca_net.fc.bias"]))
        return x[:, :128] + torch.exp(0.5 * x[:, 128:]) * eps

    def up(h, p):
        for k in range(1, 5):
            h = F.relu(
                bn(
                    conv(F.interpolate(h, scale_factor=2, mode="nearest"), f"{p}upsample{k}.1"),
                    f"{p}upsample{k}.2",
                )
            )
        return torch.tanh(conv(h, f"{p}img.0"))

    p = "STAGE1_G." if eps2 is not None else ""
    h = F.linear(torch.cat([z, ca(p, eps1)], 1), s[f"{p}fc.0.weight"])
    low = up(F.relu(bn(h, f"{p}fc.1")).view(len(z), -1, 4, 4), p)
    if eps2 is None:
        return low.permute(0, 2, 3, 1).numpy()
    h = F.relu(conv(low, "encoder.0"))
    h = F.relu(bn(conv(h, "encoder.2", 2), "encoder.3"))
    h = F.relu(bn(conv(h, "encoder.5", 2), "encoder.6"))
    c = ca("", eps2)[:, :, None, None].expand(-1, -1, 16, 16)
    h = F.relu(bn(conv(torch.cat([h, c], 1), "hr_joint.0"), "hr_joint.1"))
    for r in range(4):
        q = f"residual.{r}.block"
        h = F.relu(h + bn(conv(F.relu(bn(conv(h, f"{q}.0"), f"{q}.1")), f"{q}.3"), f"{q}.4"))
    return up(h, "").permute(0, 2, 3, 1).numpy()


def authors_stackgan_discriminator(s, image, c):
    """STAGE1_D / STAGE2_D's logits before their sigmoid: encode_img, then the heads."""

    def bn(x, p):
        return F.batch_norm(
            x,
            s[f"{p}.running_mean"],
            s[f"{p}.running_var"],
            s[f"{p}.weight"],
            s[f"{p}.bias"],
            False,
            0.0,
            1e-5,
        )

    lrelu = lambda x: F.leaky_relu(x, 0.2)  # noqa: E731
    h = lrelu(F.conv2d(image, s["encode_img.0.weight"], stride=2, padding=1))
    k = 1
    while f"encode_img.{3 * k - 1}.weight" in s:
        w = s[f"encode_img.{3 * k - 1}.weight"]
        h = lrelu(
            bn(
                F.conv2d(h, w, stride=2 if w.shape[-1] == 4 else 1, padding=1),
                f"encode_img.{3 * k}",
            )
        )
        k += 1
    joint = torch.cat([h, c[:, :, None, None].expand(-1, -1, 4, 4)], 1)
    joint = lrelu(
        bn(
            F.conv2d(joint, s["get_cond_logits.outlogits.0.weight"], padding=1),
            "get_cond_logits.outlogits.1",
        )
    )
    logits = [
        F.conv2d(
            joint,
            s["get_cond_logits.outlogits.3.weight"],
            s["get_cond_logits.outlogits.3.bias"],
            stride=4,
        )
    ]
    if "get_uncond_logits.outlogits.0.weight" in s:
        logits.append(
            F.conv2d(
                h,
                s["get_uncond_logits.outlogits.0.weight"],
                s["get_uncond_logits.outlogits.0.bias"],
                stride=4,
            )
        )
    return [logit.reshape(len(image), -1).numpy() for logit in logits]


def random_inputs(*widths, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((batch, n)).astype("float32") for n in widths]


@pytest.mark.parametrize("stage", [1, 2])
def test_stackgan_birds_networks_equal_the_authors_forward(stage):
    g_state, d_state = (
        fabricate(f"stackgan_birds_STAGE{stage}_G"),
        fabricate(f"stackgan_birds_STAGE{stage}_D", 1),
    )
    model = convert.stackgan_from_authors(g_state, d_state, stage=stage, preset="birds")
    assert model.embedding_dim == 1024 and model.image_size == 64 * 4 ** (stage - 1)
    z, embedding, eps1, eps2 = random_inputs(100, 1024, 128, 128)
    inputs = [z, embedding, eps1] + ([eps2] if stage == 2 else [])
    images = numpy(model.generator(inputs, training=False)[0])
    with torch.no_grad():
        expected = authors_stackgan_forward(g_state, *(torch.from_numpy(a) for a in inputs))
        image = torch.from_numpy(expected.transpose(0, 3, 1, 2).copy())
        mu = torch.from_numpy(random_inputs(128, seed=1)[0])
        logits = authors_stackgan_discriminator(d_state, image, mu)
    np.testing.assert_allclose(images, expected, atol=2e-4)
    got = model.discriminator([expected, mu.numpy()], training=False)
    for got_logit, want in zip(got if stage == 2 else [got], logits):
        np.testing.assert_allclose(numpy(got_logit), want, rtol=1e-3, atol=1e-3)


@pytest.mark.once
def test_a_checkpoint_of_the_other_stage_is_refused():
    with pytest.raises((KeyError, ValueError), match="encode_img"):
        convert.stackgan_from_authors(
            fabricate("stackgan_birds_STAGE1_G"),
            fabricate("stackgan_birds_STAGE2_D"),
            stage=1,
            preset="birds",
        )
    with pytest.raises(ValueError, match="is a STAGE2_G checkpoint: convert it with stage=2"):
        convert.stackgan_from_authors(fabricate("stackgan_birds_STAGE2_G"), preset="birds")
    with pytest.raises(ValueError, match="is a STAGE1_G checkpoint: convert it with stage=1"):
        convert.stackgan_from_authors(fabricate("stackgan_birds_STAGE1_G"), stage=2, preset="birds")


@pytest.mark.once
def test_a_nested_state_dict_is_read_by_its_path():
    nested = {"model": {"netG": {"module.fc.weight": torch.ones(2, 3)}}}
    assert list(convert.read_state_dict(nested, "model", "netG")) == [
        "fc.weight"
    ]  # DDP's prefix gone
    with pytest.raises(KeyError, match="has no entry 'netD'"):
        convert.read_state_dict(nested, "model", "netD")
    with pytest.raises(ValueError, match="not a state dict of tensors"):
        convert.read_state_dict({"epoch": 3}, "epoch")


@pytest.mark.once
def test_cli_converts_a_checkpoint_file_to_a_keras_model_that_generates_the_same(tmp_path, capsys):
    from gan_zoo.cli import main

    checkpoint = tmp_path / "netG_epoch_120.pth"
    torch.save(fabricate("stackgan_birds_STAGE1_G"), checkpoint)
    out = tmp_path / "stage1.keras"
    assert (
        main(["convert", "stackgan", str(checkpoint), "--preset", "birds", "--out", str(out)]) == 0
    )
    assert "StackGAN" in capsys.readouterr().out
    converted = convert.stackgan_from_authors(str(checkpoint), preset="birds")
    embeddings = random_inputs(1024, batch=3, seed=2)[0]
    reloaded = keras.models.load_model(out)
    np.testing.assert_array_equal(
        reloaded.generate(embeddings=embeddings, seed=4),
        converted.generate(embeddings=embeddings, seed=4),
    )
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    assert main(["convert", "stackgan", str(broken), "--out", str(tmp_path / "x.keras")]) == 2
    assert "is not a readable PyTorch checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x.keras").exists()


@pytest.mark.once
def test_damsm_and_attngan_from_the_authors_files_read_captions_with_their_ids(tmp_path):
    """The released-file workflow: captions.pickle + text/image encoder .pth -> DAMSM, then
    netG .pth -> AttnGAN, generating from text."""
    words = ["<end>", "this", "bird", "is", "red"] + [f"w{i}" for i in range(5, 5450)]
    captions = tmp_path / "captions.pickle"
    with open(captions, "wb") as f:
        pickle.dump(
            [[[1, 2]], [[2, 4]], dict(enumerate(words)), {w: i for i, w in enumerate(words)}], f
        )
    files = {}
    for name, network, seed in [
        ("text", "attngan_birds_RNN_ENCODER", 0),
        ("image", "attngan_birds_CNN_ENCODER", 1),
        ("netG", "attngan_birds_G_NET", 2),
    ]:
        files[name] = tmp_path / f"{name}.pth"
        torch.save(fabricate(network, seed), files[name])
    damsm = convert.damsm_from_authors(str(files["text"]), str(files["image"]), str(captions))
    assert damsm.vocabulary.encode("this bird is red", 6).tolist() == [[1, 2, 3, 4, 0, 0]]
    text = torch.load(files["text"])
    np.testing.assert_array_equal(
        numpy(damsm.text_encoder.embedding.embeddings), text["encoder.weight"].numpy()
    )
    image = torch.load(files["image"])
    np.testing.assert_array_equal(
        numpy(damsm.image_encoder.code.kernel), image["emb_cnn_code.weight"].numpy().T
    )
    model = convert.attngan_from_authors(str(files["netG"]), damsm=damsm, preset="birds")
    images = model.generate(["this bird is red", "a red bird"], seed=0)
    assert images.shape == (2, 256, 256, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(
        model.generate(["this bird is red", "a red bird"], seed=0), images
    )
    with pytest.raises(ValueError, match="embeds 5450 words but the vocabulary has 4"):
        small = tmp_path / "small.pickle"
        with open(small, "wb") as f:
            pickle.dump([[], [], dict(enumerate(words[:4])), {}], f)
        convert.damsm_from_authors(str(files["text"]), str(files["image"]), str(small))
