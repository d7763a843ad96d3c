"""Both players' optimizers as the one optimizer Keras's trainers carry.

Keras's JAX trainer threads only `model.optimizer.variables` through its compiled step, so
the generator's and the discriminator's optimizers sit behind one MultiOptimizer. Each player
may be a LossScaleOptimizer (mixed_float16): the MultiOptimizer then holds its inner optimizer
(Keras forbids a LossScaleOptimizer inside one) and carries the loss-scale state beside it.
"""

import warnings

import keras

LossScaleOptimizer = keras.optimizers.LossScaleOptimizer


def unwrapped(optimizer):
    """The optimizer itself, or the one inside a LossScaleOptimizer."""
    return optimizer.inner_optimizer if isinstance(optimizer, LossScaleOptimizer) else optimizer


def refuse_loss_scale_factor(*optimizers):
    """A MultiOptimizer gives its inner optimizers its own `loss_scale_factor` (None), so a
    factor set on one would be dropped without a word; it is refused instead."""
    for optimizer in optimizers:
        if getattr(unwrapped(optimizer), "loss_scale_factor", None) is not None:
            raise ValueError(
                "An optimizer's loss_scale_factor is not supported here (it would be "
                "dropped): under the mixed_float16 policy compile() scales the losses "
                "itself, with a LossScaleOptimizer per optimizer."
            )


class PlayerOptimizers(keras.optimizers.MultiOptimizer):
    """The G and D optimizers; variables go to D's by identity (paths change on reload)."""

    def __init__(self, g_optimizer, d_optimizer, discriminator_variables):
        refuse_loss_scale_factor(g_optimizer, d_optimizer)
        d_ids = {id(v) for v in discriminator_variables}
        super().__init__(
            lambda v: unwrapped(d_optimizer) if id(v) in d_ids else unwrapped(g_optimizer)
        )
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self._d_ids = d_ids

    def build(self, var_list):
        super().build(var_list)
        for player, is_d in ((self.g_optimizer, False), (self.d_optimizer, True)):
            if isinstance(player, LossScaleOptimizer) and not player.built:
                player.build([v for v in var_list if (id(v) in self._d_ids) == is_d])

    @property
    def variables(self):
        """Every inner optimizer's state, then each loss scaler's (its scale, its counter)."""
        state = super().variables
        known = {id(v) for v in state}
        for player in (self.g_optimizer, self.d_optimizer):
            state += [v for v in player.variables if id(v) not in known]
        return state


def player_optimizers(
    g_optimizer, d_optimizer, discriminator_variables, expected_average=None, loss_scaling=False
):
    """The two players' optimizers as one `PlayerOptimizers`.

    Args:
        g_optimizer, d_optimizer: two distinct optimizer instances.
        discriminator_variables: the variables `d_optimizer` updates.
        expected_average: the moving-average momentum the model asks of a G optimizer the
            user gave; a warning says so if that optimizer keeps none.
        loss_scaling: wrap each optimizer in a LossScaleOptimizer (mixed_float16), as Keras's
            `auto_scale_loss` would wrap only one.

    Returns:
        A `PlayerOptimizers`.
    """
    if expected_average and not unwrapped(g_optimizer).use_ema:
        warnings.warn(
            f"generator_ema={expected_average} is kept by the default G optimizer; the "
            "g_optimizer given keeps no average (give it use_ema=True, ema_momentum=...).",
            stacklevel=3,
        )
    if g_optimizer is d_optimizer:
        raise ValueError("The generator and the discriminator need two optimizer instances.")
    if loss_scaling:
        g_optimizer, d_optimizer = (
            o if isinstance(o, LossScaleOptimizer) else LossScaleOptimizer(o)
            for o in (g_optimizer, d_optimizer)
        )
    return PlayerOptimizers(g_optimizer, d_optimizer, discriminator_variables)
