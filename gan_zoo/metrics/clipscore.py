"""CLIPScore (Hessel et al. 2021): how well each image matches its caption, read by CLIP.

    CLIP-S(c, v) = w · max(cos(E_image(v), E_text(c)), 0),   w = 2.5

with E_image and E_text CLIP's projected image and text embeddings, averaged over the
(caption, image) pairs. As the authors' code does, each caption is prefixed with "A photo
depicts " and cut to CLIP's sequence length (77 tokens in the released presets). The encoders
are a keras-hub CLIP preset's, with its own image and text preprocessing; the numbers depend on
the preset, so a report names it.
"""

import os
import warnings

import numpy as np

from gan_zoo.data.validation import check_images

W = 2.5
PREFIX = "A photo depicts "


def clip_score(image_embeddings, text_embeddings, w=W):
    """CLIPScore of paired embeddings.

    Args:
        image_embeddings: [N, D] CLIP image embeddings (projected, any norm).
        text_embeddings: [N, D] CLIP text embeddings; row i is image i's caption.
        w: the scale; the paper's 2.5 stretches the cosines CLIP gives (the authors saw
            roughly 0 to 0.4) over about [0, 1].

    Returns:
        (mean, standard error of the mean) of w · max(cos, 0) over the N pairs, as floats.
    """
    images = np.asarray(image_embeddings, dtype="float64")
    texts = np.asarray(text_embeddings, dtype="float64")
    if images.shape != texts.shape or images.ndim != 2 or not len(images):
        raise ValueError(
            f"image and text embeddings must be matching, non-empty [N, D] arrays; got "
            f"{images.shape} and {texts.shape}"
        )
    cosines = np.sum(images * texts, axis=1) / (
        np.linalg.norm(images, axis=1) * np.linalg.norm(texts, axis=1) + 1e-12
    )
    per_pair = w * np.maximum(cosines, 0.0)
    return float(per_pair.mean()), float(per_pair.std() / np.sqrt(len(per_pair)))


class CLIP:
    """A keras-hub CLIP's image and text encoders, as CLIPScore reads them.

    Args:
        backbone: a `keras_hub.models.CLIPBackbone`.
        preprocessor: its `keras_hub.models.CLIPPreprocessor` (tokenizer, sequence length,
            and the image converter that resizes and normalises images as the preset expects).
        name: what reports call it (the preset handle).
        prefix: put before every caption; the authors' "A photo depicts " by default.
    """

    def __init__(self, backbone, preprocessor, name="CLIP", prefix=PREFIX):
        import keras

        self.preprocessor = preprocessor
        self.name = name
        self.prefix = prefix
        self.sequence_length = preprocessor.sequence_length
        images = keras.Input(backbone.vision_encoder.image_shape)
        token_ids = keras.Input((None,), dtype="int32")
        self._image_encoder = keras.Model(images, backbone.get_vision_embeddings(images))
        self._text_encoder = keras.Model(token_ids, backbone.get_text_embeddings(token_ids))

    @classmethod
    def from_preset(cls, handle, prefix=PREFIX):
        """Loads a keras-hub CLIP preset.

        Args:
            handle: a preset name (e.g. "clip_vit_base_patch32"), a "kaggle://" or "hf://"
                handle (both downloaded on first use), or a local directory that
                `save_to_preset` wrote, which needs no download.
            prefix: as in `CLIP`.

        Returns:
            A `CLIP`.

        Raises:
            ValueError: the preset cannot be loaded; the message says why and how to give a
                local copy instead.
        """
        import keras_hub

        try:
            backbone = keras_hub.models.CLIPBackbone.from_preset(handle)
            preprocessor = keras_hub.models.CLIPPreprocessor.from_preset(handle)
        except Exception as error:  # keras-hub, kagglehub and huggingface_hub raise many kinds
            raise ValueError(_unloadable(handle, error)) from error
        return cls(backbone, preprocessor, name=str(handle), prefix=prefix)

    def embed_images(self, images, batch_size=64):
        """Images -> CLIP image embeddings.

        Args:
            images: uint8 [N, S, S, 3], or floats in [-1, 1]; resized to CLIP's input size
                and normalised by the preset's image converter, which takes [0, 255].
            batch_size: images converted and encoded at a time.

        Returns:
            numpy float32 [N, D], the projected embeddings.
        """
        images = check_images(images)
        if images.dtype != np.uint8:
            images = (images + 1.0) * 127.5  # [-1, 1] -> [0, 255], not re-quantised
        converter = self.preprocessor.image_converter
        return np.concatenate(
            [
                self._image_encoder.predict_on_batch(
                    converter(images[i : i + batch_size].astype("float32"))
                )
                for i in range(0, len(images), batch_size)
            ]
        )

    def embed_captions(self, captions, batch_size=256):
        """Captions -> CLIP text embeddings, each caption after `prefix`. A caption longer than
        the sequence length (start and end tokens included) is cut to it, keeping its start,
        as CLIP's own code does, with a warning.

        Args:
            captions: strings.
            batch_size: captions encoded at a time.

        Returns:
            numpy float32 [N, D], the projected embeddings.
        """
        texts = [self.prefix + caption for caption in captions]
        lengths = [len(ids) + 2 for ids in self.preprocessor.tokenizer(texts)]
        long = [text for text, length in zip(texts, lengths) if length > self.sequence_length]
        if long:
            warnings.warn(
                f"{len(long)} of {len(texts)} captions are longer than CLIP's "
                f"{self.sequence_length} tokens and were truncated to them, "
                f"e.g. {long[0]!r}",
                stacklevel=2,
            )
        return np.concatenate(
            [
                self._text_encoder.predict_on_batch(
                    self.preprocessor({"prompts": texts[i : i + batch_size], "images": None})[
                        "token_ids"
                    ]
                )
                for i in range(0, len(texts), batch_size)
            ]
        )

    def score(self, images, captions, w=W):
        """CLIPScore of images and their captions.

        Args:
            images: as `embed_images` takes them.
            captions: one string per image.
            w: as in `clip_score`.

        Returns:
            (mean, standard error) as `clip_score` returns them.
        """
        return clip_score(self.embed_images(images), self.embed_captions(captions), w=w)


def _unloadable(handle, error):
    """The message for a CLIP preset that keras-hub could not load."""
    cause = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
    if os.path.isdir(str(handle)):
        return (
            f"{handle} holds no keras-hub CLIP preset ({cause}). A preset directory holds "
            "config.json, model.weights.h5, preprocessor.json, tokenizer.json and "
            "image_converter.json, as CLIPBackbone and CLIPPreprocessor.save_to_preset write "
            "them."
        )
    import keras_hub

    names = ", ".join(sorted(keras_hub.models.CLIPBackbone.presets))
    return (
        f"CLIP preset {handle!r} could not be loaded ({cause}). keras-hub downloads preset "
        f"names ({names}) from Kaggle and hf:// handles from Hugging Face, which needs the "
        "internet; no local directory has that name either. To work offline, save the preset "
        "once where there is internet:\n"
        "  import keras_hub\n"
        "  for cls in (keras_hub.models.CLIPBackbone, keras_hub.models.CLIPPreprocessor):\n"
        '      cls.from_preset("clip_vit_base_patch32").save_to_preset("clip_vit_base_patch32")\n'
        "then copy that directory here and give its path instead (CLI: --clip "
        "./clip_vit_base_patch32)."
    )
