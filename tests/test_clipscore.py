"""CLIPScore: the formula by hand, the metric through a keras-hub CLIP, `evaluate` and the CLI.

No preset can be downloaded here, so a tiny random CLIP is built with keras-hub's own classes
(with a vocabulary and merges written below), saved with `save_to_preset` and loaded back with
`from_preset(dir)`: the code path a downloaded preset takes.
"""

import json

import keras
import numpy as np
import pytest
from conftest import tiny_dcgan

from gan_zoo import cli, metrics
from gan_zoo.data.validation import to_unit_range
from gan_zoo.metrics.report import every_caption

pytestmark = pytest.mark.xdist_group("clipscore")  # module fixtures: one worker runs the file
SEQUENCE_LENGTH = 77  # the released presets'
IMAGE_SIZE = 32
WORDS = "a photo depicts big red green blue circle square on black background".split()
CAPTIONS = ["a red circle", "a big blue square", "a green circle on black", "a red square"]


def _vocabulary_and_merges(words):
    """A CLIP BPE vocabulary of single characters (each also as a word's end, "x</w>"), so that
    any lowercase caption has tokens, and merges that join `words` (where no earlier merge
    splits them otherwise); the special tokens come last, so that the end token has the
    highest id (CLIP pools the text at the largest id)."""
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
def tiny_clip(tmp_path_factory):
    """(preset directory, the backbone saved there, its tokenizer)."""
    import keras_hub

    vocabulary, merges = _vocabulary_and_merges(WORDS)
    keras.utils.set_random_seed(0)
    width = dict(hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32)
    backbone = keras_hub.models.CLIPBackbone(
        vision_encoder=keras_hub.models.CLIPVisionEncoder(
            patch_size=8, image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), **width
        ),
        text_encoder=keras_hub.models.CLIPTextEncoder(
            vocabulary_size=len(vocabulary),
            embedding_dim=16,
            max_sequence_length=SEQUENCE_LENGTH,
            **width,
        ),
        projection_dim=8,
    )
    tokenizer = keras_hub.models.CLIPTokenizer(vocabulary=vocabulary, merges=merges)
    preprocessor = keras_hub.models.CLIPPreprocessor(
        tokenizer,
        keras_hub.layers.CLIPImageConverter(
            (IMAGE_SIZE, IMAGE_SIZE), [2.0 / 255.0] * 3, [-1.0] * 3, interpolation="bicubic"
        ),
        sequence_length=SEQUENCE_LENGTH,
    )
    preset = tmp_path_factory.mktemp("clip_preset")
    backbone.save_to_preset(str(preset))
    preprocessor.save_to_preset(str(preset))
    return str(preset), backbone, tokenizer


def _text_embeddings(backbone, tokenizer, captions):
    """CLIP text embeddings by hand: the authors' prefix, the BPE tokens, packed as CLIP reads
    them (start, at most `SEQUENCE_LENGTH` - 2 tokens, end, padding with id 0), then the
    backbone's text encoder and projection."""
    rows = []
    for ids in tokenizer(["a photo depicts " + caption.lower() for caption in captions]):
        ids = [tokenizer.start_token_id, *ids[: SEQUENCE_LENGTH - 2], tokenizer.end_token_id]
        rows.append(ids + [0] * (SEQUENCE_LENGTH - len(ids)))
    return keras.ops.convert_to_numpy(backbone.get_text_embeddings(np.array(rows, "int32")))


@pytest.mark.once
def test_clip_score_by_hand():
    images = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    texts = np.array([[2.0, 0.0], [0.0, -1.0], [1.0, 0.0]])  # cosines 1, -1 (clipped), 1/√2
    per_pair = 2.5 * np.array([1.0, 0.0, 1 / np.sqrt(2)])
    mean, se = metrics.clip_score(images, texts)
    assert mean == pytest.approx((2.5 + 2.5 / 2**0.5) / 3)
    assert se == pytest.approx(per_pair.std() / np.sqrt(3))
    assert metrics.clip_score(images, texts, w=1.0)[0] == pytest.approx(per_pair.mean() / 2.5)
    assert metrics.clip_score(-images[:2], texts[:2])[0] == pytest.approx(2.5 / 2)
    with pytest.raises(ValueError, match="matching, non-empty"):
        metrics.clip_score(images, texts[:2])


def test_clipscore_through_a_preset_equals_the_backbone_by_hand(tiny_clip):
    preset, backbone, tokenizer = tiny_clip
    clip = metrics.CLIP.from_preset(preset)
    images = np.random.default_rng(0).integers(0, 256, (4, 24, 24, 3), dtype=np.uint8)
    # by hand: bicubic resize to CLIP's size, the converter's scale, the prefix, the EOS pooling
    pixels = keras.ops.image.resize(images.astype("float32"), (IMAGE_SIZE, IMAGE_SIZE), "bicubic")
    image_embeddings = keras.ops.convert_to_numpy(
        backbone.get_vision_embeddings(pixels * (2 / 255) - 1)
    )
    text_embeddings = _text_embeddings(backbone, tokenizer, CAPTIONS)
    cosines = np.sum(image_embeddings * text_embeddings, axis=1) / (
        np.linalg.norm(image_embeddings, axis=1) * np.linalg.norm(text_embeddings, axis=1)
    )
    mean, _ = clip.score(images, CAPTIONS)
    assert mean == pytest.approx(np.mean(2.5 * np.maximum(cosines, 0)), rel=1e-4, abs=1e-5)
    np.testing.assert_allclose(clip.embed_captions(CAPTIONS), text_embeddings, atol=1e-5)
    np.testing.assert_allclose(  # images in [-1, 1] are the same images
        clip.embed_images(to_unit_range(images)), clip.embed_images(images), atol=1e-4
    )


def test_an_over_long_caption_is_truncated_with_a_warning(tiny_clip):
    preset, backbone, tokenizer = tiny_clip
    clip = metrics.CLIP.from_preset(preset)
    captions = ["a red circle", "a big blue square on a green background, " * 6]
    assert len(tokenizer(captions[1])) > SEQUENCE_LENGTH
    with pytest.warns(UserWarning, match="1 of 2 captions are longer than CLIP's 77 tokens"):
        embeddings = clip.embed_captions(captions)
    np.testing.assert_allclose(
        embeddings, _text_embeddings(backbone, tokenizer, captions), atol=1e-5
    )  # its first 75 tokens (the prefix's among them), as CLIP's own code cuts it


@pytest.mark.once
@pytest.mark.parametrize("handle", ["hf://nobody/nothing", "missing_dir"])
def test_an_unloadable_preset_says_it_needs_a_download(handle, tmp_path, monkeypatch):
    import huggingface_hub.constants

    # offline as these machines are, minus huggingface_hub's 23 s of retries
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    handle = handle if "://" in handle else str(tmp_path / handle)
    with pytest.raises(ValueError, match="downloads preset names .* needs the internet") as error:
        metrics.CLIP.from_preset(handle)
    assert "save_to_preset" in str(error.value) and "--clip ./" in str(error.value)
    with pytest.raises(ValueError, match="holds no keras-hub CLIP preset"):
        metrics.CLIP.from_preset(str(tmp_path))


def test_evaluate_reports_clipscore_of_generated_and_real_images(tiny_clip, shapes32):
    images, captions, _, vocabulary = shapes32
    images, captions = images[:4], captions[:4]
    clip = metrics.CLIP.from_preset(tiny_clip[0])
    model = tiny_dcgan(vocabulary)
    report = metrics.evaluate(
        model,
        {"images": images, "captions": captions},
        metrics=["clipscore"],
        num_samples=6,
        clip=clip,
        verbose=False,
    )
    prompts = every_caption(captions, 6)  # prompt k is image k mod 4's
    real = clip.score(images[[0, 1, 2, 3, 0, 1]], prompts)
    assert (report["clipscore_real"], report["clipscore_real_se"]) == pytest.approx(real)
    fake = clip.score(model.generate(prompts, seed=0), prompts)
    assert (report["clipscore"], report["clipscore_se"]) == pytest.approx(fake, abs=1e-5)
    assert report["protocol"]["clip"] == tiny_clip[0]
    assert "| CLIPScore (w = 2.5, " in metrics.markdown_table(report)
    with pytest.raises(ValueError, match="CLIPScore needs a CLIP model"):
        metrics.evaluate(model, {"images": images, "captions": captions}, metrics=["clipscore"])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, shapes32):
    """An untrained tiny DCGAN-cls as a .keras file: `evaluate` draws from it all the same."""
    path = tmp_path_factory.mktemp("run") / "model.keras"
    tiny_dcgan(shapes32[3]).save(path)
    return str(path)


def test_cli_evaluate_clipscore(checkpoint, tiny_clip, tmp_path):
    out = tmp_path / "report.json"
    argv = ["evaluate", "--checkpoint", checkpoint, "--metrics", "clipscore"]
    assert cli.main([*argv, "--clip", tiny_clip[0], "--num-samples", "8", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert 0 <= report["clipscore"] <= 2.5 and 0 <= report["clipscore_real"] <= 2.5
    assert report["protocol"]["clip"] == tiny_clip[0]
    assert "real images" in (tmp_path / "report.md").read_text()


@pytest.mark.once
def test_cli_clipscore_needs_a_loadable_clip(checkpoint, tmp_path, capsys):
    argv = ["evaluate", "--checkpoint", checkpoint, "--metrics", "fid,clipscore"]
    with pytest.raises(SystemExit, match="clipscore needs --clip"):
        cli.main(argv)
    assert cli.main([*argv, "--clip", str(tmp_path / "clip_vit_base_patch32")]) == 2
    assert "needs the internet" in capsys.readouterr().err
