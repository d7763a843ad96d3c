"""Reading the authors' PyTorch checkpoints and checking them key by key.

`read_state_dict` opens a `.pth` file (PyTorch needed only here) or takes a mapping already in
memory, strips DDP's `module.` prefix and gives NumPy arrays. A `StateDict` hands tensors out
by name, checks each shape, and at the end names every key it was given but never used, so a
file of another network fails with the first key that does not fit instead of converting
silently. The layout functions turn PyTorch's tensor layouts into Keras's (channels last).
"""

import os

import numpy as np


def read_state_dict(source, *path):
    """A state dict as {name: np.ndarray}: `source` is a `.pth` path or a mapping; `path`
    picks a nested entry (for a checkpoint saved as `{"model": {"netG": ...}}`, pass
    "model", "netG"). A tensor holding NaN or inf is refused: it would convert silently."""
    name = source if isinstance(source, (str, os.PathLike)) else "the state dict"
    if isinstance(source, (str, os.PathLike)):
        source = torch_load(source)
    for key in path:
        if key not in source:
            raise KeyError(f"{name} has no entry {key!r} (it has {sorted(source)[:8]}).")
        source = source[key]
    if not hasattr(source, "items"):
        raise ValueError(f"{name} holds a {type(source).__name__}, not a state dict of tensors.")
    tensors = {}
    for key, value in source.items():
        key = key[len("module.") :] if key.startswith("module.") else key
        tensors[key] = (
            value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        )
        if np.issubdtype(tensors[key].dtype, np.floating) and not np.isfinite(tensors[key]).all():
            raise ValueError(
                f"{name}: tensor {key!r} holds NaN or inf values, so the network it comes "
                "from had diverged (or the file is damaged): convert a checkpoint of an "
                "earlier epoch."
            )
    return tensors


def torch_load(path):
    """A PyTorch checkpoint file's contents (tensors only, on the CPU); a missing file, a missing
    PyTorch or an unreadable file is one error that says which."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No checkpoint at {path}")
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            f"Reading {path} needs PyTorch: pip install 'gan_zoo[torch]' "
            "(the converted model needs only Keras)."
        ) from error
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError ...
        raise ValueError(f"{path} is not a readable PyTorch checkpoint: {error}") from error


class StateDict:
    """Tensors of one network, handed out by name with their shapes checked.

    Args:
        tensors: {name: array} (see `read_state_dict`).
        network: what the file should hold, for error messages (e.g. "AttnGAN G_NET").
        source: where it came from (a file name), for error messages.
    """

    def __init__(self, tensors, network, source="the state dict"):
        self.tensors, self.network, self.source = dict(tensors), network, source
        self.used = set()

    @classmethod
    def read(cls, source, network):
        """The StateDict of a `.pth` path or an in-memory mapping (see `read_state_dict`),
        its errors naming the file."""
        name = (
            os.fspath(source)
            if isinstance(source, (str, os.PathLike))
            else f"the {network} state dict"
        )
        return cls(read_state_dict(source), network, name)

    def take(self, key, shape=None):
        """The tensor `key` as float32, after checking it exists and has `shape`."""
        if key not in self.tensors:
            raise KeyError(
                f"{self.source} has no {key!r}: it is not a {self.network} checkpoint "
                f"(or not one of this configuration). Keys it has: {sorted(self.tensors)[:6]}..."
            )
        value = self.tensors[key]
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(
                f"{self.source}: {key!r} has shape {tuple(value.shape)}, a {self.network} "
                f"of this configuration needs {tuple(shape)}; check the preset."
            )
        self.used.add(key)
        return value.astype("float32")

    def finish(self):
        """Raises unless every tensor was used (BatchNorm's `num_batches_tracked` excepted)."""
        extra = [
            k for k in self.tensors if k not in self.used and not k.endswith("num_batches_tracked")
        ]
        if extra:
            raise ValueError(
                f"{self.source} has {len(extra)} tensors a {self.network} does not have, "
                f"first {extra[0]!r}: is it a checkpoint of another network or preset?"
            )


def assign(layer, weights, what):
    """Sets `layer`'s weights, naming `what` (the PyTorch module) if a shape does not fit."""
    expected = [tuple(w.shape) for w in layer.weights]
    got = [tuple(w.shape) for w in weights]
    if expected != got:
        raise ValueError(
            f"{what} -> {layer.name}: shapes {got} do not fit the Keras layer's {expected}."
        )
    layer.set_weights(weights)


def conv_kernel(weight):
    """Conv2d [out, in, kh, kw] -> Conv2D [kh, kw, in, out]."""
    return weight.transpose(2, 3, 1, 0)


def dense_kernel(weight):
    """Linear [out, in] -> Dense [in, out]; a 1x1 Conv2d [out, in, 1, 1] the same way."""
    return weight.reshape(weight.shape[0], -1).T


def batch_norm(state, prefix, size):
    """[gamma, beta, moving mean, moving variance] of a BatchNorm at `prefix`."""
    return [
        state.take(f"{prefix}.{name}", (size,))
        for name in ("weight", "bias", "running_mean", "running_var")
    ]


def nchw_to_nhwc_features(channels, height, width):
    """The index permutation that lays out a Linear's outputs viewed as NCHW [C, H, W] in the
    order a channels-last Reshape((H, W, C)) reads them: new[k] = old[perm[k]]."""
    c, y, x = np.meshgrid(np.arange(channels), np.arange(height), np.arange(width), indexing="ij")
    old = c * height * width + y * width + x  # [C, H, W]: PyTorch's feature index
    return old.transpose(1, 2, 0).reshape(-1)  # read in H, W, C order


def load_dense(state, layer, prefix, order=None):
    """A Linear (or 1x1 Conv2d) at `prefix` into a Dense; `order` permutes its outputs."""
    units = layer.kernel.shape[-1]
    kernel = dense_kernel(state.take(f"{prefix}.weight"))
    if kernel.shape != tuple(layer.kernel.shape):
        raise ValueError(
            f"{state.source}: {prefix}.weight maps to {kernel.shape}, a {state.network} "
            f"of this configuration needs {tuple(layer.kernel.shape)}; check the preset."
        )
    weights = [kernel]
    if layer.use_bias:
        weights.append(state.take(f"{prefix}.bias", (units,)))
    assign(layer, [w[..., order] for w in weights] if order is not None else weights, prefix)


def load_conv(state, layer, prefix):
    """A Conv2d at `prefix` into a Conv2D (bias when the layer has one)."""
    kh, kw, cin, cout = layer.kernel.shape
    weights = [conv_kernel(state.take(f"{prefix}.weight", (cout, cin, kh, kw)))]
    if layer.use_bias:
        weights.append(state.take(f"{prefix}.bias", (cout,)))
    assign(layer, weights, prefix)


def load_batch_norm(state, layer, prefix, order=None):
    """A BatchNorm1d/2d at `prefix` into a BatchNormalization; `order` permutes its features."""
    weights = batch_norm(state, prefix, layer.gamma.shape[0])
    assign(layer, [w[order] for w in weights] if order is not None else weights, prefix)


def load_residual(state, block, prefix):
    """A `ResidualBlock` from `<prefix>.block.<i>`: the authors' Sequential and the block's
    branch list put their convolutions and BatchNorms at the same indices."""
    from keras import layers

    for i, layer in enumerate(block.branch):
        if isinstance(layer, layers.Conv2D):
            load_conv(state, layer, f"{prefix}.block.{i}")
        elif isinstance(layer, layers.BatchNormalization):
            load_batch_norm(state, layer, f"{prefix}.block.{i}")


def load_reshaped_stem(state, dense, norm, prefix, channels, halves=1):
    """A generator's first Linear + BatchNorm1d at `<prefix>.0/.1`, whose outputs the authors
    view as NCHW [channels, 4, 4]: permuted for a channels-last Reshape, per GLU half."""
    order = nchw_to_nhwc_features(channels, 4, 4)
    order = np.concatenate([order + half * order.size for half in range(halves)])
    load_dense(state, dense, f"{prefix}.0", order)
    load_batch_norm(state, norm, f"{prefix}.1", order)


def load_up_block(state, model, name, prefix):
    """An `up_block` named `name` from the authors' upBlock Sequential at `prefix`
    (1: conv3x3, 2: BatchNorm; 0 is the upsampling)."""
    load_conv(state, model.get_layer(f"{name}_conv"), f"{prefix}.1")
    load_batch_norm(state, model.get_layer(f"{name}_bn"), f"{prefix}.2")
