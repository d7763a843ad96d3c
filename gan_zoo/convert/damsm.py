"""The authors' pretrained DAMSM (`text_encoder*.pth` + `image_encoder*.pth`) as a `DAMSM`."""

from gan_zoo.convert.inception import load_cnn_encoder
from gan_zoo.convert.text import load_text_encoder, text_state, vocabulary_from_captions_pickle
from gan_zoo.models.damsm import DAMSM


def damsm_from_authors(text_encoder, image_encoder, captions_pickle, max_length=18):
    """A `DAMSM` with the authors' encoders (DAMSMencoders/bird: epoch 200, coco: epoch 100)
    and their vocabulary (`captions.pickle` of the same dataset), its image encoder on the
    torchvision Inception layout they trained it on. AttnGAN conditions on it
    (`attngan_from_authors`) and R-precision with it is the papers' R-precision."""
    damsm = DAMSM(
        vocabulary_from_captions_pickle(captions_pickle),
        image_encoder="inception_v3",
        inception_trunk="torchvision",
        max_length=max_length,
    )
    text = text_state(text_encoder)
    load_text_encoder(text, damsm.text_encoder)
    text.finish()
    load_cnn_encoder(image_encoder, damsm.image_encoder)
    return damsm
