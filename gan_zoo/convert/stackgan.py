"""The authors' StackGAN-Pytorch networks (`STAGE1_G/D`, `STAGE2_G/D`) as `StackGAN` models.

Their generators are conditioned on the 1,024-d char-CNN-RNN sentence embeddings, so the
converted models are too (`generate(embeddings=...)`, datasets with `embeddings=True`).
"""

from keras import layers

from gan_zoo.convert.state_dict import (
    StateDict,
    load_batch_norm,
    load_conv,
    load_dense,
    load_reshaped_stem,
    load_residual,
    load_up_block,
)
from gan_zoo.models.discriminator import doublings
from gan_zoo.models.stackgan import StackGAN


def stackgan_from_authors(generator, discriminator=None, stage=1, preset="coco"):
    """A `StackGAN` holding the authors' weights: `generator` is their `netG_epoch_*.pth`
    (STAGE1_G, or STAGE2_G, whose frozen STAGE1_G copy becomes the Stage-I model inside),
    `discriminator` optionally the matching `netD_epoch_last.pth` (needed only to go on
    training). `preset` "coco" is what the authors release; "birds" fits birds runs."""
    g_state = StateDict.read(generator, f"StackGAN STAGE{stage}_G ({preset} preset)")
    holds_stage2 = any(key.startswith("STAGE1_G.") for key in g_state.tensors)  # its Stage-I inside
    if holds_stage2 != (stage == 2):
        raise ValueError(
            f"{g_state.source} is a STAGE{2 if holds_stage2 else 1}_G checkpoint: "
            f"convert it with stage={2 if holds_stage2 else 1}."
        )
    embedding_dim = g_state.take("ca_net.fc.weight").shape[1]
    stage1 = StackGAN.from_preset(preset, stage=1, embedding_dim=embedding_dim, image_size=64)
    if stage == 1:
        model = stage1
        load_stage1_generator(g_state, model.generator)
    else:
        load_stage1_generator(g_state, stage1.generator, "STAGE1_G.")
        model = StackGAN.from_preset(preset, stage=2, stage1=stage1)
        load_stage2_generator(g_state, model)
    g_state.finish()
    if discriminator is not None:
        d_state = StateDict.read(discriminator, f"StackGAN STAGE{stage}_D ({preset} preset)")
        load_discriminator(d_state, model.discriminator)
        d_state.finish()
    return model


def load_stage1_generator(state, g, prefix=""):
    """STAGE1_G: ca_net, fc (viewed as NCHW [8·gf, 4, 4]), upsample1..4, img."""
    load_dense(state, g.get_layer("ca").dense, f"{prefix}ca_net.fc")
    fc = g.get_layer("fc")
    load_reshaped_stem(state, fc, g.get_layer("fc_bn"), f"{prefix}fc", fc.units // 16)
    _up_blocks(state, g, doublings(g.outputs[0].shape[1] / 4, "Stage-I"), prefix)
    load_conv(state, g.get_layer("image"), f"{prefix}img.0")


def load_stage2_generator(state, model):
    """STAGE2_G's own modules: ca_net, encoder, hr_joint, residual, upsample1..4, img."""
    g = model.generator
    load_dense(state, g.get_layer("ca").dense, "ca_net.fc")
    load_conv(state, g.get_layer("encoder_conv0"), "encoder.0")
    for i in (1, 2):
        load_conv(state, g.get_layer(f"encoder_conv{i}"), f"encoder.{3 * i - 1}")
        load_batch_norm(state, g.get_layer(f"encoder_bn{i}"), f"encoder.{3 * i}")
    load_conv(state, g.get_layer("joint_conv"), "hr_joint.0")
    load_batch_norm(state, g.get_layer("joint_bn"), "hr_joint.1")
    for i in range(model.r_num):
        load_residual(state, g.get_layer(f"residual{i}"), f"residual.{i}")
    _up_blocks(state, g, doublings(model.image_size / 16, "Stage-II"))
    load_conv(state, g.get_layer("image"), "img.0")


def _up_blocks(state, g, count, prefix=""):
    for step in range(1, count + 1):
        load_up_block(state, g, f"up{step}", f"{prefix}upsample{step}")


def load_discriminator(state, d):
    """STAGE1_D / STAGE2_D into a `ConditionalDiscriminator`: `encode_img` is a Sequential of
    conv, LeakyReLU, then (conv, BN, LeakyReLU) repeated, so convolution k sits at index
    3k - 1 and its BatchNorm at 3k; then the conditional (and unconditional) logits."""
    convs, norms = (
        _of_type(d.encoder, layers.Conv2D),
        _of_type(d.encoder, layers.BatchNormalization),
    )
    load_conv(state, convs[0], "encode_img.0")
    for k, (conv, norm) in enumerate(zip(convs[1:], norms), start=1):
        load_conv(state, conv, f"encode_img.{3 * k - 1}")
        load_batch_norm(state, norm, f"encode_img.{3 * k}")
    joint, logit = _of_type(d.cond_head, layers.Conv2D)
    load_conv(state, joint, "get_cond_logits.outlogits.0")
    load_batch_norm(
        state, _of_type(d.cond_head, layers.BatchNormalization)[0], "get_cond_logits.outlogits.1"
    )
    load_conv(state, logit, "get_cond_logits.outlogits.3")
    if d.uncond_head is not None:
        load_conv(state, _of_type(d.uncond_head, layers.Conv2D)[0], "get_uncond_logits.outlogits.0")


def _of_type(model, kind):
    """The layers of one kind in a chain-shaped functional model, input to output."""
    return [layer for layer in model.layers if isinstance(layer, kind)]
