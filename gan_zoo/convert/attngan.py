"""The authors' AttnGAN generator (`G_NET`, `netG_epoch_*.pth`) as an `AttnGAN`."""

from gan_zoo.convert.state_dict import (
    StateDict,
    load_conv,
    load_dense,
    load_reshaped_stem,
    load_residual,
    load_up_block,
)
from gan_zoo.models.attngan import AttnGAN
from gan_zoo.models.discriminator import doublings


def attngan_from_authors(source, damsm, preset="birds", **kwargs):
    """An `AttnGAN` (`preset` "birds" or "coco") whose generator holds the weights of the
    authors' `netG_epoch_*.pth` (the moving average they sample from), conditioned by `damsm`
    (e.g. `damsm_from_authors(...)`, the encoders it was trained with). Its discriminators
    stay new: the authors release no D. Their G has no text BatchNorm."""
    kwargs.setdefault("text_batch_norm", False)
    model = AttnGAN.from_preset(preset, damsm=damsm, **kwargs)
    state = StateDict.read(source, f"AttnGAN G_NET ({preset} preset)")
    load_generator(state, model)
    state.finish()
    return model


def load_generator(state, model):
    """Fills `model.generator` from a StateDict of `G_NET`, module by module:
    ca_net, h_net1 (stem + upsample1..n), then per later stage h_netK.att / residual /
    upsample, and img_netK for every stage's image."""
    g = model.generator
    load_dense(state, g.get_layer("ca").dense, "ca_net.fc")
    fc = g.get_layer("fc")
    load_reshaped_stem(state, fc, g.get_layer("fc_bn"), "h_net1.fc", fc.units // 32, halves=2)
    for step in range(1, doublings(model.base_size / 4, "AttnGAN's first stage") + 1):
        load_up_block(state, g, f"stage0_up{step}", f"h_net1.upsample{step}")
    for stage in range(model.stages):
        net = f"h_net{stage + 1}"
        if stage:
            load_dense(state, g.get_layer(f"attention_{stage}").project, f"{net}.att.conv_context")
            for block in range(model.r_num):
                load_residual(
                    state, g.get_layer(f"stage{stage}_residual{block}"), f"{net}.residual.{block}"
                )
            load_up_block(state, g, f"stage{stage}_up", f"{net}.upsample")
        load_conv(state, g.get_layer(f"image_{stage}"), f"img_net{stage + 1}.img.0")
