"""Remedies found since the three papers, as options of every GAN here, all off by default.

`Remedies` holds, validates and saves them; the model's step asks it for what each changes.
The papers' recipes stay the defaults (faithfulness is a feature); these are the tools the
field found since for the weaknesses those recipes show (instability, a discriminator that
wins, weak control over the output), one switch each, measured in docs/stabilizers.md:

- `adversarial_loss`: "bce" (the papers'), "hinge" (SAGAN, BigGAN, DF-GAN) or "lsgan" (see
  `gan_zoo.losses`);
- `spectral_norm`: Keras's SpectralNormalization on D's convolutions and dense layers;
- `r1_gamma`: the zero-centred R1 penalty γ/2 · E‖∇_x D(x, t)‖² on real/right pairs
  (Mescheder et al. 2018);
- `ma_gp`: DF-GAN's matching-aware gradient penalty k · E[‖(∇_x D, ∇_e D)‖^p] on real/right
  pairs, the gradient taken with respect to the image and the sentence vector D receives
  (Tao et al. 2022: k = 2, p = `MA_GP_POWER` = 6);
- `diff_augment`: DiffAugment's policy (`gan_zoo.layers.augment`) on every image D sees;
- `g_learning_rate`, `d_learning_rate`: the two-timescale update rule (Heusel et al. 2017),
  each player's Adam rate (None: the model's `learning_rate`);
- `d_steps`: D updates per G update (WGAN's n_critic);
- `projection`: a projection discriminator head (Miyato & Koyama 2018) on models that have
  one (DCGAN-cls, StackGAN);
- `wrong_pairs`: how the matching-aware D's wrong pairs are drawn, "rolled" (the papers') or
  "similar" (by the similarity of the two captions, among rows of another class where the
  batch has `labels`, which it needs to draw one-word negatives; `gan_zoo.losses.wrong_pairs`).
"""

import math
import numbers

import keras
from keras import ops

from gan_zoo import losses, training
from gan_zoo.layers.augment import diff_augment, parse_policy

MA_GP_POWER = 6  # DF-GAN's p; its weight k (2 in DF-GAN) is the `ma_gp` option
DEFAULTS = {
    "adversarial_loss": "bce",
    "spectral_norm": False,
    "r1_gamma": 0.0,
    "ma_gp": 0.0,
    "diff_augment": None,
    "g_learning_rate": None,
    "d_learning_rate": None,
    "d_steps": 1,
    "projection": False,
    "wrong_pairs": "rolled",
}


def _is_number(value):
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def check_weight(name, value, what):
    if not _is_number(value) or value < 0:
        raise ValueError(
            f"{name} is {what} and must be a finite number ≥ 0 (0 = off); got {value!r}"
        )


def _check_rate(name, value):
    if value is not None and (not _is_number(value) or value <= 0):
        raise ValueError(
            f"{name} must be a positive learning rate, or None for the model's learning_rate; "
            f"got {value!r}"
        )


def _check_flag(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False; got {value!r}")


class Remedies:
    """The remedy options of one model (see the module's docstring), checked.

    Args:
        label_smoothing: the model's, to refuse its combination with the hinge loss.
        projection_head: whether the model has a projection head to switch on.
        **options: any of `DEFAULTS`' names; those not given take its values.

    Raises:
        ValueError: naming the option, for a value it cannot take: an unknown loss or
            augmentation policy, a negative penalty weight, a non-positive learning rate,
            a `d_steps` that is not an integer ≥ 1, a projection head on a model without
            one, an unknown `wrong_pairs` rule, or hinge with label smoothing.
    """

    def __init__(self, label_smoothing=0.0, projection_head=False, **options):
        unknown = sorted(set(options) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"Unknown remedy options {unknown}; they are {list(DEFAULTS)}.")
        for name, value in {**DEFAULTS, **options}.items():
            setattr(self, name, value)
        if self.adversarial_loss not in losses.ADVERSARIAL_LOSSES:
            raise ValueError(
                f"adversarial_loss must be one of {losses.ADVERSARIAL_LOSSES}; "
                f"got {self.adversarial_loss!r}"
            )
        if self.adversarial_loss == "hinge" and label_smoothing:
            raise ValueError(
                f"adversarial_loss='hinge' takes no label_smoothing (got {label_smoothing}): "
                "its margin already stops rewarding D once D(real) ≥ 1. Use label_smoothing=0, "
                "or 'bce' or 'lsgan', whose targets it moves."
            )
        if self.wrong_pairs not in losses.WRONG_PAIRS:
            raise ValueError(
                f"wrong_pairs must be one of {losses.WRONG_PAIRS}; got {self.wrong_pairs!r}"
            )
        check_weight("r1_gamma", self.r1_gamma, "the R1 penalty's γ")
        check_weight("ma_gp", self.ma_gp, "the MA-GP penalty's weight k")
        _check_rate("g_learning_rate", self.g_learning_rate)
        _check_rate("d_learning_rate", self.d_learning_rate)
        if isinstance(self.d_steps, bool) or not isinstance(self.d_steps, numbers.Integral):
            raise ValueError(f"d_steps must be an integer ≥ 1; got {self.d_steps!r}")
        if self.d_steps < 1:
            raise ValueError(f"d_steps (D updates per G update) must be ≥ 1; got {self.d_steps}")
        _check_flag("spectral_norm", self.spectral_norm)
        _check_flag("projection", self.projection)
        if self.projection and not projection_head:
            raise ValueError(
                "projection=True: this model has no projection discriminator head (DCGAN-cls "
                "and StackGAN have one); use projection=False."
            )
        self.augmentations = parse_policy(self.diff_augment)

    @classmethod
    def pop_from(cls, kwargs, label_smoothing=0.0, projection_head=False):
        """`Remedies` of the options in a model's constructor `kwargs`, removed from them."""
        options = {name: kwargs.pop(name) for name in DEFAULTS if name in kwargs}
        return cls(label_smoothing, projection_head, **options)

    def get_config(self):
        """Every option's value, for the model's config (so `.keras` files keep them)."""
        return {name: getattr(self, name) for name in DEFAULTS}

    @property
    def penalised(self):
        return bool(self.r1_gamma or self.ma_gp)

    @property
    def logged_names(self):
        """The penalties' names in the logs, where they are on."""
        return ("d_r1",) * bool(self.r1_gamma) + ("d_ma_gp",) * bool(self.ma_gp)

    def learning_rate(self, player, default):
        """The Adam rate of "generator" or "discriminator": its own option, else `default`."""
        rate = self.g_learning_rate if player == "generator" else self.d_learning_rate
        return default if rate is None else rate

    def augment(self, images, seed):
        """`images` after the DiffAugment policy (drawn with the SeedGenerator `seed`), or the
        same tensor where there is none."""
        return diff_augment(images, self.augmentations, seed) if self.augmentations else images

    def real_pair(self, discriminate, images, condition):
        """D on the real/right pairs, and the gradient penalties on them when any is on.

        Args:
            discriminate: (images, condition) -> (logits [B, 1], extra), D's conditional
                output on the pairs and anything it wants back (e.g. the image features).
            images: the real images, as D sees them (after `discriminator_view`).
            condition: the sentence vector D receives.

        Returns:
            (logits, extra, penalties): `penalties` a dict {"d_r1", "d_ma_gp"} of the terms
            that are on, each to be added to D's loss (empty when none is).
        """
        if not self.penalised:
            return (*discriminate(images, condition), {})
        logits, extra, (image_grad, condition_grad) = training.input_gradients(
            discriminate, [images, condition]
        )
        return logits, extra, gradient_penalties(image_grad, condition_grad, self)

    def check_compiled(self, model):
        """Refuses, at `compile`, a combination a backend cannot run: PyTorch's torch.compile
        (jit_compile=True there) cannot differentiate a gradient (no double backward)."""
        if self.penalised and keras.backend.backend() == "torch" and model.jit_compile:
            raise ValueError(
                "r1_gamma and ma_gp need a gradient of a gradient, which torch.compile "
                "(jit_compile=True on PyTorch) does not support: compile with "
                "jit_compile=False (the default there)."
            )


def gradient_penalties(image_grad, condition_grad, remedies):
    """The zero-centred penalties from D's gradients on real/right pairs.

    Args:
        image_grad: ∇_x D [B, H, W, C], each row the gradient of its own logit.
        condition_grad: ∇_e D [B, E], with respect to the sentence vector D receives.
        remedies: the `Remedies` whose `r1_gamma` and `ma_gp` weigh them.

    Returns:
        {"d_r1": γ/2 · mean ‖∇_x D‖²} where r1_gamma is set, and {"d_ma_gp": k · mean
        ‖(∇_x D, ∇_e D)‖^p} (p = MA_GP_POWER) where ma_gp is set. The norm's power is taken
        of its square (‖·‖^p = (‖·‖²)^(p/2)), which has a gradient at 0, where a norm has none.
    """
    image_squares = ops.sum(ops.square(ops.cast(image_grad, "float32")), axis=(1, 2, 3))
    penalties = {}
    if remedies.r1_gamma:
        penalties["d_r1"] = 0.5 * remedies.r1_gamma * ops.mean(image_squares)
    if remedies.ma_gp:
        squares = image_squares + ops.sum(ops.square(ops.cast(condition_grad, "float32")), axis=1)
        penalties["d_ma_gp"] = remedies.ma_gp * ops.mean(ops.power(squares, MA_GP_POWER / 2))
    return penalties


def with_penalties(total, parts, penalties):
    """A D loss (total, parts) with the penalties added to the total and to the parts."""
    return total + sum(penalties.values()), {**parts, **penalties}
