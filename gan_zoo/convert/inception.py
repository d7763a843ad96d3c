"""Inception-v3 from PyTorch checkpoints: the FID-standard network, AttnGAN's image encoder.

`fid_inception_from_pytorch_fid` reads pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`
(the TensorFlow graph inception-2015-12-05 of the FID and Inception Score papers, ported to
PyTorch by pytorch-fid; released at https://github.com/mseitzer/pytorch-fid/releases, tag
`fid_weights`) and gives a `FeatureExtractor` that computes pytorch-fid's features.
`load_cnn_encoder` fills an `InceptionEncoder(trunk="torchvision")` with the authors' DAMSM
image encoder (`image_encoder200.pth`, or its state dict). Both check every tensor's name and shape.
"""

import keras
from keras import layers

from gan_zoo.convert.state_dict import StateDict, assign, batch_norm, conv_kernel, dense_kernel
from gan_zoo.metrics.features import FeatureExtractor
from gan_zoo.models.image_encoders import INCEPTION_SIZE
from gan_zoo.models.inception import Bias, inception_network, pytorch_name

FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth"
)
FID_CLASSES = 1008  # the 2015 graph's classifier outputs (ImageNet's classes and unused ones)


def load_inception(state, network):
    """Fills every convolution, BatchNorm and fc tensor of an `inception_network` (or of a model
    built on its layers) from a torchvision-layout state dict."""
    for layer in network.layers:
        module = pytorch_name(layer.name)
        if isinstance(layer, layers.Conv2D):
            kh, kw, channels, filters = layer.kernel.shape
            weight = state.take(f"{module}.weight", (filters, channels, kh, kw))
            assign(layer, [conv_kernel(weight)], module)
        elif isinstance(layer, layers.BatchNormalization):
            assign(layer, batch_norm(state, module, layer.gamma.shape[0]), module)
        elif isinstance(layer, layers.Dense):
            features, classes = layer.kernel.shape
            assign(
                layer, [dense_kernel(state.take(f"{module}.weight", (classes, features)))], module
            )
        elif isinstance(layer, Bias):
            assign(layer, [state.take(module, tuple(layer.bias.shape))], module)


def fid_inception_from_pytorch_fid(source):
    """The FID-standard Inception (pytorch-fid's FIDInceptionV3) as a `FeatureExtractor`.

    `source`: the path of pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` (download it
    once from `FID_WEIGHTS_URL`; reading it needs PyTorch), or its state dict already loaded
    (a mapping of name -> tensor or array). Features are pool3 (2048); probabilities are the
    softmax over the 1008 outputs of the fc without its bias, as the original Inception Score
    code (improved-gan) computed them. Images are resized as pytorch-fid does: bilinear to
    299 px, not antialiased, then scaled to [-1, 1].
    """
    state = StateDict.read(source, "pytorch-fid FIDInceptionV3")
    network = inception_network("fid", FID_CLASSES, (INCEPTION_SIZE, INCEPTION_SIZE, 3))
    load_inception(state, network)
    state.finish()
    probabilities = layers.Softmax(dtype="float32", name="probabilities")(
        network.get_layer("fc").output
    )
    model = keras.Model(
        network.input, [network.get_layer("avgpool").output, probabilities], name="fid_inception_v3"
    )
    return FeatureExtractor(
        model,
        INCEPTION_SIZE,
        name="inception-2015-12-05 (pytorch-fid)",
        comparable_with_papers=True,
        interpolation="bilinear",
        antialias=False,
    )


def load_cnn_encoder(state, encoder):
    """Fills `encoder`, an `InceptionEncoder(output_dim, trunk="torchvision")`, from the
    authors' DAMSM image encoder (AttnGAN's CNN_ENCODER, saved as `image_encoder200.pth`):
    the Inception trunk, `emb_features` (1x1 conv 768 -> D, no bias) and `emb_cnn_code`
    (Linear 2048 -> D). `state` is that file's path, its state dict or a `StateDict` of it;
    every tensor must be used."""
    if not isinstance(state, StateDict):
        state = StateDict.read(state, "AttnGAN CNN_ENCODER (DAMSM image encoder)")
    if getattr(encoder, "trunk_layout", None) != "torchvision":
        raise ValueError("The authors' CNN_ENCODER fills an InceptionEncoder(trunk='torchvision').")
    if not encoder.built:
        encoder.build((None, INCEPTION_SIZE, INCEPTION_SIZE, 3))
    load_inception(state, encoder.trunk)
    dim = encoder.output_dim
    assign(
        encoder.regions,
        [dense_kernel(state.take("emb_features.weight", (dim, 768, 1, 1)))],
        "emb_features",
    )
    assign(
        encoder.code,
        [
            dense_kernel(state.take("emb_cnn_code.weight", (dim, 2048))),
            state.take("emb_cnn_code.bias", (dim,)),
        ],
        "emb_cnn_code",
    )
    state.finish()
    return encoder
