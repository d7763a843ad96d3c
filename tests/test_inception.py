"""Inception-v3 in torchvision's layout and its converters, against a PyTorch re-computation.

The state dicts are fabricated with exactly the real names and shapes: AttnGAN's CNN_ENCODER
from tests/data/authors_state_dicts (listed from the authors' class), pytorch-fid's network
as the same torchvision trunk plus its 1008-class fc (`fid_inception_v3` builds
`Inception3(num_classes=1008, aux_logits=False)`). The reference below is written from
torchvision's and pytorch-fid's block definitions with torch.nn.functional.
"""

import warnings

import keras
import numpy as np
import pytest
from conftest import authors_layout, fabricate_state_dict, trainable_count

from gan_zoo import metrics
from gan_zoo.convert import fid_inception_from_pytorch_fid, load_cnn_encoder
from gan_zoo.convert.inception import load_inception
from gan_zoo.convert.state_dict import StateDict, read_state_dict
from gan_zoo.models.image_encoders import InceptionEncoder
from gan_zoo.models.inception import BranchPool, inception_network

pytestmark = pytest.mark.xdist_group("inception")  # module fixtures: one worker runs the file

torch = pytest.importorskip("torch")
F = torch.nn.functional

CNN_ENCODER = authors_layout("attngan_birds_CNN_ENCODER")
TRUNK = {k: v for k, v in CNN_ENCODER["state_dict"].items() if not k.startswith("emb_")}
PYTORCH_FID = {**TRUNK, "fc.weight": [1008, 2048], "fc.bias": [1008]}
RUNNING = ("running_mean", "running_var")


def fabricate(shapes, seed=0):
    """He-scaled kernels: activations keep their scale through the ReLU network."""
    return fabricate_state_dict(shapes, seed, gain=np.sqrt(2))


def elements(shapes, running=False):
    """Elements of the PyTorch parameters, or (`running`) of the BatchNorm running statistics."""
    return sum(
        int(np.prod(shape))
        for key, shape in shapes.items()
        if key.endswith(RUNNING) == running and not key.endswith("num_batches_tracked")
    )


# ---- the PyTorch reference ------------------------------------------------------------------

POOLS = {
    "avg_include_pad": lambda x: F.avg_pool2d(x, 3, 1, 1),
    "avg_exclude_pad": lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False),
    "max": lambda x: F.max_pool2d(x, 3, 1, 1),
}
BLOCK_POOLS = {
    "torchvision": ("avg_include_pad", "avg_include_pad"),  # all blocks, Mixed_7c
    "fid": ("avg_exclude_pad", "max"),
}


def conv(s, name, x, stride=1, padding=0):
    """torchvision's BasicConv2d in inference."""
    x = F.conv2d(x, s[f"{name}.conv.weight"], stride=stride, padding=padding)
    x = F.batch_norm(
        x,
        s[f"{name}.bn.running_mean"],
        s[f"{name}.bn.running_var"],
        s[f"{name}.bn.weight"],
        s[f"{name}.bn.bias"],
        training=False,
        eps=1e-3,
    )
    return F.relu(x)


def block_a(s, n, x, pool):
    b5 = conv(s, f"{n}.branch5x5_2", conv(s, f"{n}.branch5x5_1", x), padding=2)
    b3 = conv(s, f"{n}.branch3x3dbl_1", x)
    b3 = conv(s, f"{n}.branch3x3dbl_3", conv(s, f"{n}.branch3x3dbl_2", b3, padding=1), padding=1)
    return torch.cat(
        [conv(s, f"{n}.branch1x1", x), b5, b3, conv(s, f"{n}.branch_pool", pool(x))], 1
    )


def block_b(s, n, x):
    b3 = conv(s, f"{n}.branch3x3", x, stride=2)
    bd = conv(s, f"{n}.branch3x3dbl_2", conv(s, f"{n}.branch3x3dbl_1", x), padding=1)
    bd = conv(s, f"{n}.branch3x3dbl_3", bd, stride=2)
    return torch.cat([b3, bd, F.max_pool2d(x, 3, 2)], 1)


def block_c(s, n, x, pool):
    row, col = (0, 3), (3, 0)
    b7 = conv(s, f"{n}.branch7x7_1", x)
    b7 = conv(s, f"{n}.branch7x7_3", conv(s, f"{n}.branch7x7_2", b7, padding=row), padding=col)
    bd = conv(s, f"{n}.branch7x7dbl_1", x)
    for i, padding in zip(range(2, 6), (col, row, col, row)):
        bd = conv(s, f"{n}.branch7x7dbl_{i}", bd, padding=padding)
    return torch.cat(
        [conv(s, f"{n}.branch1x1", x), b7, bd, conv(s, f"{n}.branch_pool", pool(x))], 1
    )


def block_d(s, n, x):
    b3 = conv(s, f"{n}.branch3x3_2", conv(s, f"{n}.branch3x3_1", x), stride=2)
    b7 = conv(s, f"{n}.branch7x7x3_1", x)
    b7 = conv(s, f"{n}.branch7x7x3_2", b7, padding=(0, 3))
    b7 = conv(s, f"{n}.branch7x7x3_3", b7, padding=(3, 0))
    b7 = conv(s, f"{n}.branch7x7x3_4", b7, stride=2)
    return torch.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)


def block_e(s, n, x, pool):
    def split(y, stem):
        return [
            conv(s, f"{n}.{stem}a", y, padding=(0, 1)),
            conv(s, f"{n}.{stem}b", y, padding=(1, 0)),
        ]

    b3 = split(conv(s, f"{n}.branch3x3_1", x), "branch3x3_2")
    bd = conv(s, f"{n}.branch3x3dbl_2", conv(s, f"{n}.branch3x3dbl_1", x), padding=1)
    bd = split(bd, "branch3x3dbl_3")
    return torch.cat(
        [conv(s, f"{n}.branch1x1", x), *b3, *bd, conv(s, f"{n}.branch_pool", pool(x))], 1
    )


def reference(s, x, variant):
    """NCHW images -> (Mixed_6e, Mixed_7c) of torchvision's Inception3 or pytorch-fid's network."""
    pool, last = (POOLS[mode] for mode in BLOCK_POOLS[variant])
    x = conv(s, "Conv2d_2a_3x3", conv(s, "Conv2d_1a_3x3", x, stride=2))
    x = F.max_pool2d(conv(s, "Conv2d_2b_3x3", x, padding=1), 3, 2)
    x = F.max_pool2d(conv(s, "Conv2d_4a_3x3", conv(s, "Conv2d_3b_1x1", x)), 3, 2)
    for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
        x = block_a(s, name, x, pool)
    x = block_b(s, "Mixed_6a", x)
    for name in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
        x = block_c(s, name, x, pool)
    mixed_6e = x
    x = block_e(s, "Mixed_7b", block_d(s, "Mixed_7a", x), pool)
    return mixed_6e, block_e(s, "Mixed_7c", x, last)


def nhwc(tensor):
    return tensor.permute(0, 2, 3, 1).numpy()


def close(got, want, tolerance=1e-4):
    """Equal up to float32 round-off, relative to the output's scale."""
    got, want = keras.ops.convert_to_numpy(got), np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * np.abs(want).max())


def torch_images(images):
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def bilinear_299(x):
    """pytorch-fid's resize, and the authors' nn.Upsample((299, 299), mode="bilinear") as
    PyTorch 0.4 and later compute it (their 0.3-era code likely ran with align_corners=True)."""
    return F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)


def size(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


@pytest.fixture(scope="module")
def fid_state():
    return fabricate(PYTORCH_FID, seed=1)


@pytest.fixture(scope="module")
def fid_extractor(fid_state):
    return fid_inception_from_pytorch_fid(fid_state)


@pytest.fixture(scope="module")
def cnn_state():
    return fabricate(CNN_ENCODER["state_dict"], seed=2)


@pytest.fixture(scope="module")
def cnn_encoder(cnn_state):
    encoder = InceptionEncoder(256, trunk="torchvision")
    return load_cnn_encoder(StateDict(read_state_dict(cnn_state), "CNN_ENCODER"), encoder)


# ---- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 5, 6, 3), (1, 1, 1, 2)])
def test_branch_pools_count_the_padding_as_pytorch_does(shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    for mode, pool in POOLS.items():
        close(BranchPool(mode)(x), nhwc(pool(torch_images(x))), 1e-6)


def test_bilinear_resize_is_pytorch_fids_and_the_authors_upsample():
    """`ops.image.resize` bilinear without antialias = F.interpolate(align_corners=False),
    up (the usual 256 -> 299) and down."""
    rng = np.random.default_rng(0)
    for side in (64, 331):
        x = rng.uniform(0, 255, (1, side, side, 3)).astype("float32")
        want = bilinear_299(torch_images(x))
        close(
            keras.ops.image.resize(x, (299, 299), interpolation="bilinear", antialias=False),
            nhwc(want),
            1e-5,
        )


@pytest.mark.parametrize("variant", ["torchvision", "fid"])
def test_the_whole_network_equals_the_pytorch_blocks(variant, fid_state, cnn_state):
    """107 px: Mixed_5 at 11x11, Mixed_6 at 5x5, Mixed_7 at 2x2, so every pooling meets the
    border; the fid network's fc too."""
    state = fid_state if variant == "fid" else cnn_state
    network = inception_network(variant, classes=1008 if variant == "fid" else 0)
    load_inception(StateDict(read_state_dict(state), variant), network)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 107, 107, 3)).astype("float32")
    out = network(x)
    with torch.no_grad():
        mixed_6e, mixed_7c = reference(state, torch_images(x), variant)
    close(out["Mixed_6e"], nhwc(mixed_6e))
    pool3 = mixed_7c.mean(dim=(2, 3))
    close(out["pool3"], pool3)
    if variant == "fid":
        close(out["logits"], F.linear(pool3, state["fc.weight"], state["fc.bias"]))
        close(out["logits_unbiased"], F.linear(pool3, state["fc.weight"]))


def test_a_wrong_tensor_is_named(fid_state, tmp_path):
    missing = dict(fid_state)
    del missing["Mixed_6c.branch7x7dbl_2.conv.weight"]
    torch.save(missing, tmp_path / "pt_inception.pth")
    with pytest.raises(
        KeyError, match=r"pt_inception.pth has no 'Mixed_6c.branch7x7dbl_2.conv.weight'"
    ):
        fid_inception_from_pytorch_fid(str(tmp_path / "pt_inception.pth"))
    with pytest.raises(ValueError, match="first 'AuxLogits.fc.weight'"):
        fid_inception_from_pytorch_fid({**fid_state, "AuxLogits.fc.weight": torch.zeros(1000, 768)})
    with pytest.raises(ValueError, match=r"'fc\.weight' has shape \(1000, 2048\)"):
        fid_inception_from_pytorch_fid({**fid_state, "fc.weight": torch.zeros(1000, 2048)})


def test_fid_extractor_is_pytorch_fids_pipeline(fid_extractor, fid_state):
    """uint8 images -> [0, 1] -> bilinear 299 -> 2x - 1 -> pool3, as pytorch-fid; the
    probabilities are the softmax of the fc without bias; metrics.FID takes the extractor."""
    rng = np.random.default_rng(3)
    real, fake = (rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8) for _ in range(2))
    assert fid_extractor.comparable_with_papers and "pytorch-fid" in fid_extractor.name
    out = fid_extractor(real)
    with torch.no_grad():
        x = bilinear_299(torch_images(real.astype("float32") / 255))
        pool3 = reference(fid_state, 2 * x - 1, "fid")[1].mean(dim=(2, 3))
    close(out["features"], pool3)
    close(out["probabilities"], F.softmax(F.linear(pool3, fid_state["fc.weight"]), dim=1))
    fid = metrics.FID(feature_extractor=fid_extractor)
    fid.update_real(real)
    fid.update_fake(fake)
    close(fid.real.mean, pool3.mean(dim=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 samples for 2048 dimensions: rank-deficient
        assert 0 < fid.result() < np.inf


def test_cnn_encoder_equals_the_authors_forward(cnn_encoder, cnn_state):
    """CNN_ENCODER.forward: nn.Upsample(299, bilinear), trunk to Mixed_6e -> emb_features (the
    17x17 regions), Mixed_7a..7c -> avg_pool2d(8) -> emb_cnn_code (the global code)."""
    images = np.random.default_rng(4).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    regions, code = cnn_encoder(images)
    s = cnn_state
    with torch.no_grad():
        x = bilinear_299(torch_images(images))
        mixed_6e, mixed_7c = reference(s, x, "torchvision")
        features = F.conv2d(mixed_6e, s["emb_features.weight"])  # [B, 256, 17, 17]
        cnn_code = F.linear(
            F.avg_pool2d(mixed_7c, 8).flatten(1), s["emb_cnn_code.weight"], s["emb_cnn_code.bias"]
        )
    close(regions, features.flatten(2).transpose(1, 2))  # region r = 17 y + x
    close(code, cnn_code)


def test_parameter_counts_equal_pytorchs(cnn_encoder):
    """Trainable = PyTorch's parameters (BatchNorm's running statistics are buffers); the
    CNN_ENCODER trains only its two heads."""
    model = inception_network("fid", classes=1008)
    assert trainable_count(model) == elements(PYTORCH_FID) == 23_850_960
    assert size(model.non_trainable_variables) == elements(PYTORCH_FID, running=True)
    assert trainable_count(cnn_encoder) == CNN_ENCODER["trainable_params"] == 721_152
    frozen = size(v for v in cnn_encoder.non_trainable_variables if "moving" not in v.name)
    assert frozen + 721_152 == CNN_ENCODER["total_params"] == elements(CNN_ENCODER["state_dict"])


def test_filled_models_survive_save_and_reload(fid_extractor, cnn_encoder, tmp_path):
    rng = np.random.default_rng(5)
    inputs = keras.Input((80, 80, 3))
    encoder = keras.Model(inputs, cnn_encoder(inputs))
    for model, side in ((fid_extractor.model, 299), (encoder, 80)):
        x = rng.uniform(-1, 1, (1, side, side, 3)).astype("float32")
        model.save(tmp_path / "model.keras")
        again = keras.saving.load_model(tmp_path / "model.keras")
        for a, b in zip(keras.tree.flatten(model(x)), keras.tree.flatten(again(x))):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
            )


def test_cnn_encoder_needs_the_torchvision_trunk():
    with pytest.raises(ValueError, match="takes no keras.applications weights"):
        InceptionEncoder(trunk="torchvision", weights="inception.weights.h5")
    with pytest.raises(ValueError, match="not one of"):
        InceptionEncoder(trunk="timm")
    with pytest.raises(ValueError, match="trunk='torchvision'"):
        load_cnn_encoder(StateDict({}, "CNN_ENCODER"), InceptionEncoder())
