"""The authors' DF-GAN networks (`NetG`, `NetD`, `NetC` of `state_epoch_N.pth`) as a `DFGAN`.

Their checkpoint holds all three under `['model']['netG' | 'netD' | 'netC']` (with DDP's
`module.` prefix when trained on several GPUs, which is stripped), so the converted model
generates and can go on training.
"""

import os

from gan_zoo.convert.state_dict import (
    StateDict,
    load_conv,
    load_dense,
    nchw_to_nhwc_features,
    read_state_dict,
    torch_load,
)
from gan_zoo.models.dfgan import DFGAN, DownBlock, UpBlock

NETWORKS = ("netG", "netD", "netC")  # the keys of the checkpoint's "model" entry


def dfgan_from_authors(source, damsm=None, preset="birds", **kwargs):
    """A `DFGAN` holding the weights of the authors' G, D and C.

    Args:
        source: their `state_epoch_N.pth` (e.g. bird.yml's state_epoch_1220.pth), or that
            checkpoint already loaded: a mapping with "model", or the "model" mapping itself.
        damsm: the DAMSM whose text encoder conditions the model, frozen, as the authors'
            does: `convert.damsm_from_authors(...)` of their `text_encoder200.pth` (birds) or
            `text_encoder100.pth` (COCO). Without it, give `vocabulary=` and `text_encoder=`
            (`convert.text_encoder_from_authors`), kept frozen, or `embedding_dim=`.
        preset: "birds" or "coco" (the same networks: nf 32, 256 px, 256-d sentences).
        **kwargs: other `DFGAN` arguments, e.g. `image_size=` for a checkpoint of another size.

    Returns:
        The `DFGAN`, its G, NetD and NetC the checkpoint's.

    Raises:
        KeyError: a network or a tensor the model needs is missing, named (a checkpoint of
            another network or size).
        ValueError: a tensor of another shape, or one the model does not have, named.
    """
    checkpoint, name = _checkpoint(source)
    if damsm is None:
        kwargs.setdefault("train_text_encoder", False)
    model = DFGAN.from_preset(preset, damsm=damsm, **kwargs)
    for network, loader in (
        ("netG", load_generator),
        ("netD", load_netd),
        ("netC", load_netc),
    ):
        state = StateDict(
            read_state_dict(checkpoint, network), f"DF-GAN {network} ({preset} preset)", name
        )
        loader(state, model)
        state.finish()
    return model


def _checkpoint(source):
    """The {"netG", "netD", "netC"} mapping of a checkpoint file or of a loaded checkpoint,
    and a name for error messages."""
    if isinstance(source, (str, os.PathLike)):
        name, source = os.fspath(source), torch_load(source)
    else:
        name = "the DF-GAN checkpoint"
    if "model" in source:
        source = source["model"]
    missing = [network for network in NETWORKS if network not in source]
    if missing:
        raise KeyError(
            f"{name} has no {', '.join(missing)}: a DF-GAN state_epoch_N.pth holds "
            f"['model']['netG' | 'netD' | 'netC']; it has {sorted(source)[:8]}."
        )
    return source, name


def load_generator(state, model):
    """NetG: fc (viewed as NCHW [8·nf, 4, 4]), GBlocks.i (c1, c2, fuse1, fuse2, c_sc where the
    width changes), to_rgb.1."""
    g = model.generator
    fc = g.get_layer("fc")
    load_dense(state, fc, "fc", order=nchw_to_nhwc_features(fc.units // 16, 4, 4))
    blocks = [layer for layer in g.layers if isinstance(layer, UpBlock)]
    for i, block in enumerate(blocks):
        prefix = f"GBlocks.{i}"
        load_conv(state, block.conv1, f"{prefix}.c1")
        load_conv(state, block.conv2, f"{prefix}.c2")
        for fuse in ("fuse1", "fuse2"):
            load_fusion(state, getattr(block, fuse), f"{prefix}.{fuse}")
        if block.shortcut is not None:
            load_conv(state, block.shortcut, f"{prefix}.c_sc")
    load_conv(state, g.get_layer("to_rgb"), "to_rgb.1")


def load_fusion(state, fusion, prefix):
    """A DFBLK: affine0 and affine1, each fc_gamma and fc_beta (linear1, linear2)."""
    for name in ("affine0", "affine1"):
        affine = getattr(fusion, name)
        for mlp in ("gamma", "beta"):
            for k in (1, 2):
                load_dense(
                    state, getattr(affine, f"{mlp}_{k}"), f"{prefix}.{name}.fc_{mlp}.linear{k}"
                )


def load_netd(state, model):
    """NetD: conv_img, then DBlocks.i: gamma, conv_r.0 (4x4 stride 2), conv_r.2 (3x3) and
    conv_s (1x1, saved in every block, run where the width changes)."""
    netd = model.netd
    load_conv(state, netd.get_layer("conv_img"), "conv_img")
    blocks = [layer for layer in netd.layers if isinstance(layer, DownBlock)]
    for i, block in enumerate(blocks):
        prefix = f"DBlocks.{i}"
        block.gamma.assign(state.take(f"{prefix}.gamma", (1,)))
        load_conv(state, block.conv_down, f"{prefix}.conv_r.0")
        load_conv(state, block.conv, f"{prefix}.conv_r.2")
        load_conv(state, block.shortcut, f"{prefix}.conv_s")


def load_netc(state, model):
    """NetC: joint_conv.0 (3x3 over [features, sentence]) and joint_conv.2 (4x4 to the logit)."""
    load_conv(state, model.netc.get_layer("joint_conv"), "joint_conv.0")
    load_conv(state, model.netc.get_layer("logit"), "joint_conv.2")
