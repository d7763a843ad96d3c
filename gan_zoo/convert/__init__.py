"""Import the authors' released PyTorch checkpoints as Keras models.

    from gan_zoo import convert
    vocabulary = convert.vocabulary_from_captions_pickle("birds/captions.pickle")
    text_encoder = convert.text_encoder_from_authors("text_encoder200.pth", vocabulary)
    model = convert.attngan_from_authors("netG_epoch_600.pth", damsm=damsm, preset="birds")
    model = convert.dfgan_from_authors("state_epoch_1220.pth", damsm=damsm, preset="birds")

Reading a `.pth` needs PyTorch; the converted models need only Keras. Every converter checks
each tensor's name and shape and names the first one that does not fit.
"""

from gan_zoo.convert.attngan import attngan_from_authors
from gan_zoo.convert.damsm import damsm_from_authors
from gan_zoo.convert.dfgan import dfgan_from_authors
from gan_zoo.convert.inception import fid_inception_from_pytorch_fid, load_cnn_encoder
from gan_zoo.convert.stackgan import stackgan_from_authors
from gan_zoo.convert.state_dict import read_state_dict
from gan_zoo.convert.text import text_encoder_from_authors, vocabulary_from_captions_pickle

__all__ = [
    "attngan_from_authors",
    "damsm_from_authors",
    "dfgan_from_authors",
    "fid_inception_from_pytorch_fid",
    "load_cnn_encoder",
    "read_state_dict",
    "stackgan_from_authors",
    "text_encoder_from_authors",
    "vocabulary_from_captions_pickle",
]
