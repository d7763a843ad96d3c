"""DAMSM: the Deep Attentional Multimodal Similarity Model of AttnGAN (Xu et al., CVPR 2018).

A text encoder (the zoo's shared `TextEncoder`) and an image encoder are trained together so
that each caption's words find their image regions and each sentence its image; AttnGAN then
uses both, frozen, to score how well its images match their captions, and R-precision uses
them to evaluate any model. Losses and hyperparameters follow the authors' `pretrain_DAMSM.py`
and `cfg/DAMSM/bird.yml`.
"""

import os

import keras
import numpy as np
from keras import ops

from gan_zoo import losses, training
from gan_zoo.data.validation import check_images, to_unit_range
from gan_zoo.metrics.retrieval import r_precision
from gan_zoo.models.captioned_model import CaptionedImageModel
from gan_zoo.models.image_encoders import InceptionEncoder, SmallEncoder
from gan_zoo.text import HubTextEncoder, TextEncoder, Vocabulary
from gan_zoo.text.hub import hub_text_arguments
from gan_zoo.training.optimizers import refuse_loss_scale_factor

IMAGE_ENCODERS = ("inception_v3", "small")


@keras.saving.register_keras_serializable(package="gan_zoo")
class DAMSM(CaptionedImageModel):
    """Text and image encoders trained with the DAMSM word and sentence matching losses.

    Args:
        vocabulary: the `Vocabulary` captions are encoded with; the DAMSM then trains its own
            `TextEncoder`. Or give text_encoder=.
        text_encoder: instead, a `HubTextEncoder` (a keras-hub CLIP or BERT; its tokenizer is
            the vocabulary, its sequence length max_length), trained with the image encoder
            only if it was built trainable=True.
        image_encoder: "inception_v3" (the authors' frozen Inception-v3 with two trainable
            256-d heads; any image size, resized to 299) or "small" (a small CNN trained from
            scratch, for 32-128 px data).
        inception_weights: local file of keras.applications InceptionV3 weights (with or
            without the top); None leaves the trunk random, which is only good for tests.
        inception_trunk: "keras" (keras.applications' layout) or "torchvision" (the layout of
            the authors' encoder, which `gan_zoo.convert.damsm_from_authors` fills).
        image_size: the small encoder's input side (images of other sizes are resized).
        max_length: caption length in tokens (WORDS_NUM 18; a hub encoder's its own).
        gamma1, gamma2, gamma3: the attention sharpness, word-score and loss scales (4, 5, 10).
        learning_rate, beta_1, beta_2: Adam (2e-3, 0.5, 0.999) for both encoders.
        lr_decay: per-epoch learning-rate factor (0.98), until the rate reaches a tenth.
        text_clipnorm: global norm the text encoder's gradients are clipped to (0.25).
        seed: seeds the text encoder's dropout.
    """

    loss_names = ("loss", "w_loss", "s_loss")
    optimizer_names = ("text_optimizer", "image_optimizer")

    def __init__(
        self,
        vocabulary=None,
        image_encoder="inception_v3",
        inception_weights=None,
        image_size=64,
        max_length=None,
        inception_trunk="keras",
        gamma1=4.0,
        gamma2=5.0,
        gamma3=10.0,
        learning_rate=2e-3,
        beta_1=0.5,
        beta_2=0.999,
        lr_decay=0.98,
        text_clipnorm=0.25,
        seed=None,
        text_encoder=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(vocabulary, dict):
            vocabulary = Vocabulary.from_config(vocabulary)
        vocabulary, text_encoder, max_length = hub_text_arguments(
            vocabulary, text_encoder, max_length
        )
        if not isinstance(vocabulary, Vocabulary) and text_encoder is None:
            raise ValueError(
                "DAMSM needs vocabulary=, the Vocabulary its captions are encoded with, or "
                "text_encoder=HubTextEncoder(...)."
            )
        if text_encoder is not None and not isinstance(text_encoder, HubTextEncoder):
            raise ValueError("A DAMSM's text_encoder= is a HubTextEncoder; else it builds its own.")
        if image_encoder not in IMAGE_ENCODERS:
            raise ValueError(
                f"Unknown image_encoder {image_encoder!r}; choose from {IMAGE_ENCODERS}."
            )
        self.vocabulary, self.image_encoder_name, self.image_size = (
            vocabulary,
            image_encoder,
            image_size,
        )
        self.inception_trunk = inception_trunk
        self.max_length, self.gammas = max_length, (gamma1, gamma2, gamma3)
        self.learning_rate, self.beta_1, self.beta_2 = learning_rate, beta_1, beta_2
        self.lr_decay, self.text_clipnorm, self.seed = lr_decay, text_clipnorm, seed
        self.text_encoder = text_encoder or TextEncoder(
            len(vocabulary), seed=seed, name="text_encoder"
        )
        self.text_encoder.build((None, max_length))
        if image_encoder == "inception_v3":
            self.image_encoder = InceptionEncoder(
                self.embedding_dim, inception_weights, inception_trunk, name="image_encoder"
            )
        else:
            self.image_encoder = SmallEncoder(image_size, self.embedding_dim, name="image_encoder")
        self.image_encoder.build((None, image_size, image_size, 3))
        self._trackers = {}
        self.built = True

    @property
    def embedding_dim(self):
        """Width of word, region, sentence and image features."""
        return self.text_encoder.output_dim

    # ----------------------------------------------------------------- encoders
    def encode_text(self, tokens, training=False):
        """Token ids [B, T] -> (words [B, T, D], sentence [B, D], mask [B, T])."""
        return self.text_encoder(tokens, training=training)

    def encode_images(self, images, training=False):
        """Float images in [-1, 1] -> (regions [B, R, D], code [B, D])."""
        return self.image_encoder(images, training=training)

    def matching_loss(self, batch, training=False):
        """The DAMSM loss of a batch and its parts {"w_loss", "s_loss"}."""
        text = self.encode_text(batch["tokens"], training=training)
        return self.image_text_loss(batch["images"], text, batch.get("labels"), training)

    def image_text_loss(self, images, text, labels=None, training=False):
        """The DAMSM loss of images against encoded captions (words, sentence, mask), and its
        parts {"w_loss", "s_loss"}: the loss a GAN's G takes from a frozen DAMSM."""
        regions, code = self.encode_images(images, training=training)
        return losses.damsm_loss(regions, code, *text, labels, *self.gammas)

    # ----------------------------------------------------------------- training
    @property
    def text_variables(self):
        return self.text_encoder.trainable_variables

    def compile(self, text_optimizer=None, image_optimizer=None, jit_compile=None, **kwargs):
        """The authors' Adam for both encoders; the text encoder's clips its gradients' global
        norm at `text_clipnorm` (their clip_grad_norm_ on the RNN; Keras's `clipnorm` would clip
        each variable on its own). Under `mixed_float16` both sit behind one loss scaler."""
        adam = dict(learning_rate=self.learning_rate, beta_1=self.beta_1, beta_2=self.beta_2)
        text_optimizer = text_optimizer or keras.optimizers.Adam(
            global_clipnorm=self.text_clipnorm, **adam
        )
        image_optimizer = image_optimizer or keras.optimizers.Adam(**adam)
        if text_optimizer is image_optimizer:
            raise ValueError("The text and the image encoder need two optimizer instances.")
        refuse_loss_scale_factor(text_optimizer, image_optimizer)
        text_ids = {id(v) for v in self.text_variables}
        self.text_optimizer, self.image_optimizer = text_optimizer, image_optimizer
        encoders = keras.optimizers.MultiOptimizer(
            lambda v: text_optimizer if id(v) in text_ids else image_optimizer
        )
        if self.dtype_policy.name == "mixed_float16":
            encoders = keras.optimizers.LossScaleOptimizer(encoders)
        self._make_trackers()
        self.compile_with(encoders, jit_compile, **kwargs)

    def learning_rate_schedule(self):
        from gan_zoo.callbacks import LearningRateDecay

        return (
            LearningRateDecay(1, self.lr_decay, offset=0, floor=0.1) if self.lr_decay != 1 else None
        )

    def train_step(self, *args):
        return training.train_step(self, self._step, *args)

    def _step(self, data):
        batch = self.check_batch(data)
        loss, parts = training.minimize(
            self.optimizer,
            self.trainable_variables,
            lambda: self.matching_loss(batch, training=True),
        )
        return self.record({"loss": loss, **parts})

    # ----------------------------------------------------------------- evaluation
    def embed_captions(self, captions, batch_size=256):
        """Caption strings -> sentence vectors, numpy float32 [N, D]."""
        tokens = self.vocabulary.encode(captions, self.max_length)
        return np.concatenate(
            [
                ops.convert_to_numpy(self.encode_text(tokens[i : i + batch_size])[1])
                for i in range(0, len(tokens), batch_size)
            ]
        )

    def embed_images(self, images, batch_size=64):
        """uint8 images (or floats in [-1, 1]) -> image codes, numpy float32 [N, D]."""
        images = check_images(images)
        out = []
        for i in range(0, len(images), batch_size):
            chunk = to_unit_range(images[i : i + batch_size])
            out.append(ops.convert_to_numpy(self.encode_images(chunk)[1]))
        return np.concatenate(out)

    def r_precision(self, images, captions, num_mismatched=99, folds=10, seed=0, labels=None):
        """R@1 of each image's own caption against `num_mismatched` others: (mean, std) over folds.
        `captions` holds one caption per image, or a list per image (as the loaders return
        them), of which the first is used; with `labels` (classes), no mismatch is of the
        image's own class."""
        captions = [c if isinstance(c, str) else (list(c) or [""])[0] for c in captions]
        if len(captions) != len(images):
            raise ValueError(
                f"r_precision needs one caption (or list of captions) per image; got "
                f"{len(captions)} for {len(images)} images"
            )
        return r_precision(
            self.embed_images(images),
            self.embed_captions(captions),
            num_mismatched,
            folds,
            seed,
            caption_ids=captions,
            labels=labels,
        )

    # ----------------------------------------------------------------- saving
    def get_config(self):
        gamma1, gamma2, gamma3 = self.gammas
        hub = isinstance(self.text_encoder, HubTextEncoder)  # holds its tokenizer, the vocabulary
        return {
            "name": self.name,
            "vocabulary": None if hub else self.vocabulary.get_config(),
            "text_encoder": keras.saving.serialize_keras_object(self.text_encoder) if hub else None,
            "image_encoder": self.image_encoder_name,
            "image_size": self.image_size,
            "inception_trunk": self.inception_trunk,
            "max_length": self.max_length,
            "gamma1": gamma1,
            "gamma2": gamma2,
            "gamma3": gamma3,
            "learning_rate": self.learning_rate,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "lr_decay": self.lr_decay,
            "text_clipnorm": self.text_clipnorm,
            "seed": self.seed,
        }


def load_damsm(damsm, model="AttnGAN"):
    """A DAMSM, given or loaded from a .keras path; anything else is an error naming `model`,
    the GAN that needs it."""
    if isinstance(damsm, (str, os.PathLike)):
        if not os.path.exists(damsm):
            raise FileNotFoundError(f"No DAMSM at {damsm}")
        damsm = keras.models.load_model(damsm)
    if not isinstance(damsm, DAMSM):
        raise ValueError(
            f"{model} needs damsm=, a pretrained DAMSM (or the path of its .keras file): "
            "train one with DAMSM(vocabulary=...).fit(...) or `gan-zoo train --model "
            f"damsm`, or convert the authors' with convert.damsm_from_authors; got "
            f"{type(damsm).__name__}."
        )
    return damsm


def frozen_text_arguments(damsm, vocabulary, kwargs, model):
    """The text arguments of a GAN that reads captions with a pretrained DAMSM's encoder,
    frozen (AttnGAN, DF-GAN).

    Args:
        damsm: a `DAMSM` or the path of its `.keras` file.
        vocabulary: None, or a vocabulary that must equal the DAMSM's.
        kwargs: the GAN's other `TextToImageGAN` arguments; those the DAMSM sets are refused.
        model: the GAN's name, for the errors.

    Returns:
        (the DAMSM, `kwargs` with its vocabulary, caption length and frozen text encoder).
    """
    damsm = load_damsm(damsm, model)
    if vocabulary is not None and vocabulary != damsm.vocabulary:
        raise ValueError(
            f"The vocabulary differs from the DAMSM's: {model} reads captions with its DAMSM's "
            "text encoder, so it takes the DAMSM's vocabulary."
        )
    for key in ("embedding_dim", "text_encoder", "train_text_encoder", "max_length"):
        if kwargs.get(key) is not None:
            raise ValueError(f"{model} takes {key} from its DAMSM, which stays frozen.")
    return damsm, dict(
        kwargs,
        vocabulary=damsm.vocabulary,
        max_length=damsm.max_length,
        text_encoder=damsm.text_encoder,
        train_text_encoder=False,
    )
