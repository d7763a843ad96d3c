"""keras-hub text backbones (CLIP, BERT) as the models' text encoder, with their own tokenizers.

`HubTextEncoder` has `TextEncoder`'s interface (token ids [B, T] -> word features [B, T, D],
sentence vector [B, D], mask [B, T]), so every model reads captions with it as with the zoo's
LSTM; `HubVocabulary` gives its tokenizer the `Vocabulary` methods the models and
`make_dataset` use. keras-hub is imported only when an encoder is built: it takes seconds.
"""

import os
import warnings

import keras
import numpy as np
from keras import layers, ops

from gan_zoo.text.vocabulary import iter_captions

KINDS = ("CLIPBackbone", "CLIPTextEncoder", "BertBackbone")


@keras.saving.register_keras_serializable(package="gan_zoo")
class HubTextEncoder(layers.Layer):
    """A keras-hub CLIP or BERT text backbone with its tokenizer, frozen by default.

    Words are the backbone's sequence output (CLIP's projected into its joint space token by
    token, so that words and sentence share one width); the sentence is CLIP's projected
    end-token embedding, as `CLIPBackbone.get_text_embeddings` gives it, or BERT's pooled
    output. The mask is True up to the end token (CLIP, which may pad with the end token) or
    where the id is not the pad id (BERT). Word features at padding positions are zero.

    Args:
        preset: a keras-hub preset handle ("clip_vit_base_patch32", "bert_tiny_en_uncased",
            a kaggle:// or hf:// handle) or a local directory `save_to_preset` wrote, holding a
            CLIPBackbone, CLIPTextEncoder or BertBackbone and its tokenizer. Or give:
        backbone: a built `CLIPTextEncoder` or `BertBackbone` (a `CLIPBackbone` gives its text
            encoder and projection), and
        tokenizer: its keras-hub tokenizer.
        projection: CLIP's text projection (a Dense layer), or None; set from a CLIPBackbone.
        sequence_length: caption length in tokens, start and end tokens included (default: the
            backbone's longest, 77 for CLIP, 512 for BERT). Longer captions are truncated, with
            a warning.
        trainable: False (default) freezes the backbone and runs it with training=False, as a
            pretrained encoder is used; True lets the models train it with D's loss.
    """

    def __init__(
        self,
        preset=None,
        backbone=None,
        tokenizer=None,
        projection=None,
        sequence_length=None,
        trainable=False,
        **kwargs,
    ):
        super().__init__(**kwargs)  # trainable set below, once the backbone is held
        if (preset is None) == (backbone is None or tokenizer is None):
            raise ValueError("Give HubTextEncoder a preset, or a backbone and its tokenizer.")
        if preset is not None:
            backbone, tokenizer = load_text_backbone(preset)
        if isinstance(backbone, dict):
            backbone, tokenizer, projection = (
                keras.saving.deserialize_keras_object(c) if c else None
                for c in (backbone, tokenizer, projection)
            )
        kind = type(backbone).__name__
        if kind == "CLIPBackbone":
            backbone, projection = backbone.text_encoder, backbone.text_projection
        elif kind not in KINDS:
            raise ValueError(not_a_text_encoder(preset or "The backbone", kind))
        if projection is not None and not projection.built:
            projection.build((None, None, backbone.hidden_dim))
        self.backbone, self.tokenizer, self.projection = backbone, tokenizer, projection
        tokenizer.built = True  # it has no state to build, but JAX's and torch's fit ask for it
        self.is_clip = kind != "BertBackbone"
        self.sequence_length = sequence_length or backbone.max_sequence_length
        if self.sequence_length > backbone.max_sequence_length:
            raise ValueError(
                f"sequence_length={sequence_length} is longer than the backbone's "
                f"{backbone.max_sequence_length} positions."
            )
        self.trainable = trainable  # down to the backbone's layers
        self.vocabulary = HubVocabulary(tokenizer, self.sequence_length)

    @property
    def output_dim(self):
        """Width of the word features and of the sentence vector."""
        return self.projection.units if self.projection is not None else self.backbone.hidden_dim

    def build(self, tokens_shape):
        self.built = True

    def call(self, tokens, training=False):
        tokens = ops.cast(tokens, "int32")
        training = bool(training) and self.trainable
        positions = ops.arange(ops.shape(tokens)[1], dtype="int32")[None]
        if self.is_clip:
            is_end = ops.cast(ops.equal(tokens, self.tokenizer.end_token_id), "int32")
            end = ops.cast(ops.argmax(is_end, axis=-1), "int32")
            mask = ops.less_equal(positions, end[:, None])
            words = self.backbone({"token_ids": tokens}, training=training)
            if self.projection is not None:
                words = self.projection(words)
            sentence = ops.take_along_axis(words, end[:, None, None], axis=1)[:, 0]
        else:
            mask = ops.not_equal(tokens, self.tokenizer.pad_token_id)
            outputs = self.backbone(
                {
                    "token_ids": tokens,
                    "segment_ids": ops.zeros_like(tokens),
                    "padding_mask": ops.cast(mask, "int32"),
                },
                training=training,
            )
            words, sentence = outputs["sequence_output"], outputs["pooled_output"]
        words = words * ops.expand_dims(ops.cast(mask, words.dtype), -1)
        return words, sentence, mask

    def compute_output_spec(self, tokens, training=None):
        batch, length = tokens.shape
        return (
            keras.KerasTensor((batch, length, self.output_dim), dtype=self.compute_dtype),
            keras.KerasTensor((batch, self.output_dim), dtype=self.compute_dtype),
            keras.KerasTensor((batch, length), dtype="bool"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            backbone=keras.saving.serialize_keras_object(self.backbone),
            tokenizer=keras.saving.serialize_keras_object(self.tokenizer),
            projection=keras.saving.serialize_keras_object(self.projection),
            sequence_length=self.sequence_length,
        )
        return config


class HubVocabulary:
    """A keras-hub tokenizer seen as a `Vocabulary`: what `model.vocabulary`, `make_dataset` and
    `generate` use for a model with a `HubTextEncoder`. It is saved as part of its encoder.

    Args:
        tokenizer: a keras-hub CLIP or BERT tokenizer (or one with start, end and pad tokens).
        sequence_length: the length captions are packed to, start and end tokens included.
    """

    def __init__(self, tokenizer, sequence_length):
        self.tokenizer, self.sequence_length = tokenizer, sequence_length
        self.lowercase = type(tokenizer).__name__ == "CLIPTokenizer"  # as CLIPPreprocessor does

    def __len__(self):
        return self.tokenizer.vocabulary_size()

    def __eq__(self, other):
        if not isinstance(other, HubVocabulary):
            return False
        mine, theirs = self.tokenizer, other.tokenizer
        return self.sequence_length == other.sequence_length and (
            mine is theirs
            or (type(mine) is type(theirs) and mine.get_vocabulary() == theirs.get_vocabulary())
        )

    __hash__ = None

    def __repr__(self):
        return f"HubVocabulary({type(self.tokenizer).__name__}, {len(self)} entries)"

    def encode(self, captions, max_length=None):
        """Captions -> token ids int32 [N, max_length]: start token, the caption's tokens, end
        token, padding. A caption with more tokens than fit keeps its start, with a warning.

        Args:
            captions: a string, or a list of them.
            max_length: the length to pack to (default `sequence_length`).

        Returns:
            numpy int32 [N, max_length].
        """
        length = max_length or self.sequence_length
        captions = list(iter_captions(captions))
        for i, caption in enumerate(captions):
            if not caption.strip():
                raise ValueError(f"Caption {i} is empty or only whitespace: {caption!r}")
        rows = self.tokenizer([c.lower() if self.lowercase else c for c in captions])
        rows = rows.to_list() if hasattr(rows, "to_list") else [list(row) for row in rows]
        long = [c for c, row in zip(captions, rows) if len(row) + 2 > length]
        if long:
            warnings.warn(
                f"{len(long)} of {len(captions)} captions have more than the text encoder's "
                f"{length} tokens (start and end included) and were truncated, e.g. {long[0]!r}",
                stacklevel=3,
            )
        tokenizer = self.tokenizer
        ids = np.full((len(rows), length), tokenizer.pad_token_id, dtype="int32")
        for i, row in enumerate(rows):
            row = [tokenizer.start_token_id, *row[: length - 2], tokenizer.end_token_id]
            ids[i, : len(row)] = row
        return ids

    def decode(self, ids):
        """Id rows back to text: what lies between the start and the end token (CLIP's pad id
        0 is also a real token, "!", so padding is told by its place, not its id)."""
        tokenizer, rows = self.tokenizer, []
        for row in np.asarray(ids).tolist():
            row = row[1:] if row[:1] == [tokenizer.start_token_id] else row
            end = tokenizer.end_token_id
            rows.append(row[: row.index(end)] if end in row else row)
        return [str(text).strip() for text in _strings(tokenizer.detokenize(rows))]


def _strings(texts):
    """keras-hub's detokenized output (a tensor of bytes or a list of str) as a list of str."""
    texts = texts.numpy().tolist() if hasattr(texts, "numpy") else list(texts)
    return [t.decode("utf-8") if isinstance(t, bytes) else t for t in texts]


def hub_text_arguments(vocabulary, text_encoder, max_length):
    """A model's text arguments, made whole where its text encoder is a `HubTextEncoder`.

    Args:
        vocabulary: None or the encoder's own `HubVocabulary` (given back by a model that
            shares the encoder, as AttnGAN its DAMSM's); a `Vocabulary` is refused.
        text_encoder: as a model takes it: an encoder, a dict of a new `TextEncoder`'s
            settings, a saved `HubTextEncoder`'s config (as `get_config` writes it), or None.
        max_length: None or the encoder's `sequence_length`.

    Returns:
        (vocabulary, text_encoder, max_length): for a hub encoder its vocabulary and sequence
        length; else as given, max_length 18 (AttnGAN's WORDS_NUM) when None.
    """
    if isinstance(text_encoder, dict) and "class_name" in text_encoder:
        text_encoder = keras.saving.deserialize_keras_object(text_encoder)
    if not isinstance(text_encoder, HubTextEncoder):
        return vocabulary, text_encoder, 18 if max_length is None else max_length
    if vocabulary is not None and vocabulary != text_encoder.vocabulary:
        raise ValueError(
            "Give a vocabulary or a HubTextEncoder, not both: the hub encoder reads captions "
            "with its own tokenizer (model.vocabulary is then that tokenizer)."
        )
    length = text_encoder.sequence_length
    if max_length is not None and max_length != length:
        raise ValueError(
            f"max_length={max_length}, but the HubTextEncoder packs captions to its "
            f"sequence_length {length}: leave max_length out, or build the encoder with "
            f"HubTextEncoder(..., sequence_length={max_length})."
        )
    return text_encoder.vocabulary, text_encoder, length


def load_text_backbone(preset):
    """(backbone, tokenizer) of a keras-hub preset, or an error saying what to do instead."""
    import keras_hub

    try:
        backbone = keras_hub.models.Backbone.from_preset(preset)
    except Exception as error:  # keras-hub, kagglehub and huggingface_hub raise many kinds
        raise ValueError(_unloadable(preset, error)) from error
    kind = type(backbone).__name__
    if kind not in KINDS:
        raise ValueError(not_a_text_encoder(preset, kind))
    try:
        tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(preset)
    except Exception as error:
        raise ValueError(
            f"The preset {preset} holds a {kind} but no tokenizer ({type(error).__name__}): "
            "save the tokenizer into it too, tokenizer.save_to_preset(directory)."
        ) from error
    return backbone, tokenizer


def not_a_text_encoder(preset, kind):
    """The message for a preset or backbone that is no text encoder the zoo reads."""
    return (
        f"{preset} is a {kind}, not a text encoder: HubTextEncoder reads a "
        f"{', '.join(KINDS)} preset, e.g. 'clip_vit_base_patch32' or 'bert_tiny_en_uncased'."
    )


def _unloadable(preset, error):
    """The message for a preset that keras-hub could not load."""
    cause = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
    if os.path.isdir(str(preset)):
        return (
            f"{preset} holds no keras-hub text encoder preset ({cause}). A preset directory "
            "holds config.json, model.weights.h5, tokenizer.json and the tokenizer's assets, "
            "as backbone.save_to_preset and tokenizer.save_to_preset write them."
        )
    return (
        f"Text encoder preset {preset!r} could not be loaded ({cause}). keras-hub downloads "
        "preset names from Kaggle and hf:// handles from Hugging Face, which needs the "
        "internet; no local directory has that name either. To work offline, save the preset "
        "once where there is internet:\n"
        "  import keras_hub\n"
        "  for cls in (keras_hub.models.Backbone, keras_hub.tokenizers.Tokenizer):\n"
        f"      cls.from_preset({str(preset)!r}).save_to_preset('my_text_encoder')\n"
        "then copy that directory here and give its path instead: "
        "HubTextEncoder('./my_text_encoder')."
    )
