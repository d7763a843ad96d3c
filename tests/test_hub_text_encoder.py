"""keras-hub text backbones as the text encoder: CLIP and BERT, raw captions in.

No preset can be downloaded here, so tiny random CLIP and BERT models are built with keras-hub's
own classes (tokenizer vocabularies and merges written below), saved with `save_to_preset` and
loaded back by `HubTextEncoder(dir)`: the code path a downloaded preset takes.
"""

import keras
import numpy as np
import pytest
from conftest import easy_training_shapes, held_out_score, tiny_dcgan
from model_harness import assert_reload_gives_the_same

from gan_zoo import DAMSM, DCGANCLS, DFGAN, AttnGAN, StackGAN, Vocabulary
from gan_zoo.data import make_dataset, shapes
from gan_zoo.text import HubTextEncoder, HubVocabulary, tokenize

pytestmark = pytest.mark.xdist_group("hub_text")  # module fixtures: one worker runs the file
SEQUENCE_LENGTH = 24
PROMPTS = ["a big red circle to the left", "a small blue square at the top"]


def clip_vocabulary_and_merges(words):
    """A CLIP BPE vocabulary of single characters (also as a word's end, "x</w>") and merges
    that join `words`; the special tokens come last, the end token with the highest id."""
    symbols = list("abcdefghijklmnopqrstuvwxyz0123456789,.")
    tokens, merges = symbols + [s + "</w>" for s in symbols], []
    for word in words:
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            merges.append(f"{parts[0]} {parts[1]}")
            parts = [parts[0] + parts[1], *parts[2:]]
            tokens.append(parts[0])
    tokens = [*dict.fromkeys(tokens), "<|startoftext|>", "<|endoftext|>"]
    return {token: i for i, token in enumerate(tokens)}, list(dict.fromkeys(merges))


@pytest.fixture(scope="module")
def words(shapes32):
    return sorted({w for entry in shapes32[1] for c in entry for w in tokenize(c)})


def save_tiny_clip(directory, words, width=16, projection_dim=12):
    """Saves a random one-layer CLIPBackbone of `width` with its tokenizer (the BPE vocabulary
    and merges of `words`) as a preset in `directory`; returns the backbone."""
    import keras_hub

    vocabulary, merges = clip_vocabulary_and_merges(words)
    layers = dict(hidden_dim=width, num_layers=1, num_heads=2, intermediate_dim=2 * width)
    backbone = keras_hub.models.CLIPBackbone(
        vision_encoder=keras_hub.models.CLIPVisionEncoder(
            patch_size=8, image_shape=(16, 16, 3), **layers
        ),
        text_encoder=keras_hub.models.CLIPTextEncoder(
            vocabulary_size=len(vocabulary),
            embedding_dim=width,
            max_sequence_length=SEQUENCE_LENGTH,
            **layers,
        ),
        projection_dim=projection_dim,
    )
    backbone.save_to_preset(directory)
    keras_hub.models.CLIPTokenizer(vocabulary=vocabulary, merges=merges).save_to_preset(directory)
    return backbone


@pytest.fixture(scope="module")
def clip_preset(tmp_path_factory, words):
    """(directory of a tiny random CLIPBackbone preset with its tokenizer, the backbone)."""
    keras.utils.set_random_seed(0)
    preset = str(tmp_path_factory.mktemp("clip_preset"))
    return preset, save_tiny_clip(preset, words)


@pytest.fixture(scope="module")
def bert_preset(tmp_path_factory, words):
    """The directory of a tiny random BertBackbone preset with its tokenizer."""
    import keras_hub

    keras.utils.set_random_seed(0)
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ",", *words]
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=SEQUENCE_LENGTH,
    )
    preset = str(tmp_path_factory.mktemp("bert_preset"))
    backbone.save_to_preset(preset)
    keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True).save_to_preset(preset)
    return preset


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def first_captions(shapes32, count):
    return [entry[0] for entry in shapes32[1][:count]]


# ------------------------------------------------------------------ the interface
@pytest.mark.parametrize("kind", ["clip", "bert"])
def test_the_interface_gives_words_sentence_and_mask(kind, clip_preset, bert_preset, shapes32):
    encoder = HubTextEncoder(clip_preset[0] if kind == "clip" else bert_preset)
    captions = first_captions(shapes32, 4)
    tokens = encoder.vocabulary.encode(captions)
    words, sentence, mask = (numpy(x) for x in encoder(tokens))
    width = 12 if kind == "clip" else 16  # CLIP's projection, BERT's hidden width
    assert encoder.output_dim == width and encoder.sequence_length == SEQUENCE_LENGTH
    assert words.shape == (4, SEQUENCE_LENGTH, width) and sentence.shape == (4, width)
    lengths = [len(encoder.tokenizer([c.lower()])[0]) + 2 for c in captions]  # start and end
    np.testing.assert_array_equal(mask.sum(axis=1), lengths)
    assert mask.dtype == bool and not np.any(words[~mask])
    decoded = encoder.vocabulary.decode(tokens[:1])[0]
    assert decoded.replace(" ", "") == captions[0].lower().replace(" ", "")
    assert not encoder.trainable and not encoder.trainable_variables
    if kind == "clip":  # the sentence is CLIP's own text embedding
        np.testing.assert_allclose(
            sentence, numpy(clip_preset[1].get_text_embeddings(tokens)), atol=1e-5
        )


# ------------------------------------------------------------------ training and saving
@pytest.fixture(scope="module")
def trained_clip_dcgan(clip_preset, shapes32):
    """A tiny DCGAN-cls on a frozen CLIP, one epoch from raw strings, and the encoder's
    weights before it."""
    images, captions = shapes32[0][:64], shapes32[1][:64]
    model = tiny_dcgan(None, text_encoder=HubTextEncoder(clip_preset[0]))
    before = [numpy(v).copy() for v in model.text_encoder.weights]
    dataset = make_dataset(images, captions, vocabulary=model.vocabulary, batch_size=16, seed=0)
    model.compile()
    history = model.fit(dataset, epochs=1, verbose=0)
    return model, before, history


def test_raw_strings_train_a_dcgan_and_the_clip_stays_frozen(trained_clip_dcgan):
    model, before, history = trained_clip_dcgan
    assert model.max_length == SEQUENCE_LENGTH and isinstance(model.vocabulary, HubVocabulary)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert before and len(before) == len(model.text_encoder.weights)
    for b, v in zip(before, model.text_encoder.weights):
        np.testing.assert_array_equal(b, numpy(v))
    images = model.generate(PROMPTS, seed=3)
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8


def test_keras_file_and_preset_round_trips_give_identical_images(trained_clip_dcgan, tmp_path):
    model = trained_clip_dcgan[0]
    again = assert_reload_gives_the_same(
        model, tmp_path / "hub.keras", lambda m: m.generate(PROMPTS, seed=7)
    )
    assert isinstance(again.text_encoder, HubTextEncoder) and not again.text_encoder.trainable
    model.save_to_preset(str(tmp_path / "preset"))
    loaded = DCGANCLS.from_preset(str(tmp_path / "preset"))
    assert loaded.vocabulary == model.vocabulary and loaded.max_length == SEQUENCE_LENGTH
    np.testing.assert_array_equal(loaded.generate(PROMPTS, seed=7), model.generate(PROMPTS, seed=7))


def test_a_keras_hub_tokenizer_as_preprocessor_feeds_fit(clip_preset, bert_preset, shapes32):
    import keras_hub

    images, captions = shapes32[0][:32], shapes32[1][:32]
    model = tiny_dcgan(None, text_encoder=HubTextEncoder(bert_preset, trainable=True))
    assert model.text_encoder.trainable_variables  # trainable on request: D's loss trains it
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(bert_preset)
    dataset = make_dataset(
        images, captions, preprocessor=tokenizer, max_length=SEQUENCE_LENGTH, batch_size=16
    )
    model.compile()
    before = [numpy(v).copy() for v in model.text_encoder.trainable_variables]
    model.fit(dataset, epochs=1, verbose=0)
    moved = [not np.array_equal(b, numpy(v)) for b, v in zip(before, model.text_encoder.weights)]
    assert any(moved)
    other = make_dataset(
        images, captions, preprocessor=HubTextEncoder(clip_preset[0]), batch_size=16
    )
    with pytest.raises(ValueError, match="different vocabulary"):
        model.fit(other, epochs=1, verbose=0)


def test_a_damsm_and_a_df_gan_read_captions_with_a_hub_encoder(clip_preset, shapes32):
    images, captions = shapes32[0][:16], shapes32[1][:16]
    encoder = HubTextEncoder(clip_preset[0])
    damsm = DAMSM(text_encoder=encoder, image_encoder="small", image_size=32, seed=0)
    assert damsm.embedding_dim == 12 and not damsm.text_variables
    dataset = make_dataset(images, captions, vocabulary=damsm.vocabulary, batch_size=8, seed=0)
    damsm.compile()
    assert np.isfinite(damsm.fit(dataset, epochs=1, verbose=0).history["loss"][-1])
    assert damsm.embed_captions(PROMPTS).shape == (2, 12)
    gan = DFGAN.from_preset("small", damsm=damsm, nf=4, sentence_dim=12, seed=0)
    assert gan.text_encoder is encoder and gan.max_length == SEQUENCE_LENGTH
    gan.compile()
    history = gan.fit(dataset, epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())


def test_stackgan_and_attngan_read_captions_with_a_hub_encoder(clip_preset, shapes32):
    """Stage-I puts its BatchNorm on a hub encoder's sentence as on its own encoder's; an
    AttnGAN over a DAMSM that reads with CLIP attends over CLIP's projected words."""
    encoder = HubTextEncoder(clip_preset[0])
    stage1 = StackGAN.from_preset("small", text_encoder=encoder, image_size=32, seed=0)
    assert stage1.text_batch_norm and stage1.max_length == SEQUENCE_LENGTH
    images = stage1.generate(PROMPTS, seed=0)
    assert images.shape == (2, 32, 32, 3)
    assert not np.array_equal(images[0], images[1])  # the two captions draw apart
    damsm = DAMSM(text_encoder=encoder, image_encoder="small", image_size=32, seed=0)
    attngan = AttnGAN.from_preset("small", damsm=damsm, seed=0)
    words, _, mask = attngan.text_encoder(attngan.vocabulary.encode(PROMPTS, SEQUENCE_LENGTH))
    assert tuple(words.shape) == (2, SEQUENCE_LENGTH, 12) and bool(numpy(mask)[:, 0].all())
    assert attngan.generate(PROMPTS, seed=0).shape[0] == 2


# ------------------------------------------------------------------ learning
@pytest.mark.slow
@pytest.mark.xla  # long training: the library's default compilation
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="about 50 s on TensorFlow; JAX would need 7 epochs, about 80 s (see the docstring)",
)
def test_a_dcgan_on_a_frozen_random_clip_follows_the_captions(tmp_path):
    """Random CLIP features still separate captions: DCGAN-cls (16 px, widths 16) on a frozen,
    randomly initialised one-layer CLIP of width 128, 1,920 easy shapes at batch 32, 6 epochs
    (360 steps). Measured over seeds 0-2 (2026-12-07, TensorFlow, one CPU core, 6 epochs in
    about 42 s): held-out alignment 0.21-0.28 after 6 epochs (0.19-0.28 after 5, 0.105-0.19
    after 4; chance 0.056). The bound, 2.5x chance (0.139), sits well below that spread. A CLIP
    of width 32 takes 12-14 epochs to pass 0.2 (docs/text_encoders.md). On JAX (one core, 20 s
    more of compiling) it was 0.155-0.24 after 6 epochs and 0.235-0.26 after 7."""
    small, captions = easy_training_shapes(size=16)
    keras.utils.set_random_seed(0)
    save_tiny_clip(
        str(tmp_path),
        sorted({w for entry in captions for c in entry for w in tokenize(c)}),
        width=128,
        projection_dim=128,
    )
    encoder = HubTextEncoder(str(tmp_path))
    model = tiny_dcgan(None, ngf=16, ndf=16, text_dim=128, text_encoder=encoder, image_size=16)
    model.compile()
    before = held_out_score(model)["alignment"]
    history = model.fit(
        make_dataset(small, captions, vocabulary=model.vocabulary, batch_size=32, seed=0),
        epochs=6,
        verbose=0,
    )
    after = held_out_score(model)
    chance = shapes.chance_alignment()
    assert before <= 2 * chance
    assert after["alignment"] >= 2.5 * chance, after
    # the discriminator learns to tell right captions from wrong ones by their CLIP features
    assert history.history["d_wrong"][-1] < history.history["d_wrong"][0]


# ------------------------------------------------------------------ the command line
CLI_TRAIN = (
    "train --model dcgan-cls --preset small --image-size 32 --num-images 64 --batch-size 32 "
    "--eval-samples 16 --epochs 1"
).split()


def test_the_command_line_trains_with_a_hub_text_encoder(clip_preset, tmp_path, capsys):
    """`gan-zoo train --hub-text-encoder DIR` reads the captions with the preset's frozen CLIP
    and writes no vocabulary; a handle that cannot be loaded is HubTextEncoder's error, status
    2; a model that reads with its base model's encoder refuses the option."""
    from gan_zoo import cli
    from gan_zoo.utils.files import load_model

    run = tmp_path / "run"
    assert cli.main([*CLI_TRAIN, "--hub-text-encoder", clip_preset[0], "--out", str(run)]) == 0
    model = load_model(str(run / "model.keras"))
    assert isinstance(model.text_encoder, HubTextEncoder) and model.max_length == SEQUENCE_LENGTH
    assert model.vocabulary == HubTextEncoder(clip_preset[0]).vocabulary
    assert not (run / "vocabulary.json").exists()
    saved = clip_preset[1].text_encoder.weights + clip_preset[1].text_projection.weights
    trained = model.text_encoder.backbone.weights + model.text_encoder.projection.weights
    assert len(saved) == len(trained)
    for before, after in zip(saved, trained):  # loaded from the preset, frozen through training
        np.testing.assert_array_equal(numpy(before), numpy(after))
    capsys.readouterr()
    missing = str(tmp_path / "no_such_preset")
    assert cli.main([*CLI_TRAIN, "--hub-text-encoder", missing, "--out", str(tmp_path / "x")]) == 2
    assert "could not be loaded" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="text encoder of its --stage1 model"):
        cli.main(
            ["train", "--model", "stackgan", "--stage", "2", "--stage1", str(run),
             "--hub-text-encoder", clip_preset[0], "--out", str(tmp_path / "stage2")]
        )  # fmt: skip


# ------------------------------------------------------------------ bad input
def test_bad_input_is_named(clip_preset, tmp_path):
    import keras_hub

    vision = keras_hub.models.CLIPVisionEncoder(
        patch_size=8, image_shape=(16, 16, 3), hidden_dim=8, num_layers=1, num_heads=2,
        intermediate_dim=8,
    )  # fmt: skip
    vision.save_to_preset(str(tmp_path / "vision"))
    with pytest.raises(ValueError, match="CLIPVisionEncoder, not a text encoder"):
        HubTextEncoder(str(tmp_path / "vision"))
    with pytest.raises(ValueError, match="could not be loaded.*save the preset"):
        HubTextEncoder(str(tmp_path / "no_such_preset"))
    encoder = HubTextEncoder(clip_preset[0])
    with pytest.raises(ValueError, match="vocabulary or a HubTextEncoder, not both"):
        tiny_dcgan(Vocabulary(["red", "circle"]), text_encoder=encoder)
    with pytest.raises(ValueError, match="sequence_length=18"):
        tiny_dcgan(None, text_encoder=encoder, max_length=18)
    long = " ".join(["a big red circle"] * 8)
    with pytest.warns(UserWarning, match="1 of 2 captions .* were truncated"):
        tokens = encoder.vocabulary.encode([long, "a red circle"])
    assert tokens.shape == (2, SEQUENCE_LENGTH)
    assert tokens[0, -1] == encoder.tokenizer.end_token_id  # the start kept, the end token last
