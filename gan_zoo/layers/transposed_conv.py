"""A transposed convolution that JAX's XLA:CPU computes at the speed of an ordinary one."""

import keras
from keras import layers, ops


def _jax_on_cpu():
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() == "cpu"


@keras.saving.register_keras_serializable(package="gan_zoo")
class Conv2DTranspose(layers.Conv2DTranspose):
    """Keras's `Conv2DTranspose`, the same weights and outputs, computed without input dilation.

    JAX writes a transposed convolution as a convolution over a zero-dilated input, and
    XLA:CPU takes a slow generic path for such convolutions and, above all, for their kernel
    gradient: 12x slower than TensorFlow for DCGAN-cls's 4x4 stride-2 layers at batch 16,
    20x at the birds widths (benchmarks/RESULTS.md). So, when `undilated` is on (by default
    where JAX compiles for the CPU), the two layouts DCGAN-cls uses are computed another way:

    - kernel 4, stride 2, "same": a sub-pixel convolution. One 3x3 stride-1 convolution
      gives the four output phases (even/odd row and column) as channel groups, which are
      interleaved into the doubled image. Its kernel holds the 4x4 kernel's taps and zeros
      (2.25x the multiplies), and runs on XLA:CPU's fast path, forward and backward;
    - a 1x1 input, stride 1, "valid": the output is the kernel's product with the input vector.

    The class keeps Keras's name, so saved models and checkpoints keep their weight paths.
    Other layouts, and `undilated=False`, call the backend's own transposed convolution;
    `undilated=None` (the default, and what is saved) decides where the model runs; GPUs
    keep the native layer, which their convolution libraries run without the extra multiplies.
    """

    def __init__(self, *args, undilated=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.undilated = undilated

    def call(self, inputs):
        undilated = _jax_on_cpu() if self.undilated is None else self.undilated
        plain = (
            self.data_format == "channels_last"
            and self.dilation_rate == (1, 1)
            and self.output_padding is None
        )
        if not (undilated and plain and None not in inputs.shape[1:3]):
            return super().call(inputs)
        if self.kernel_size == (4, 4) and self.strides == (2, 2) and self.padding == "same":
            outputs = self._sub_pixel(inputs)
        elif (
            tuple(inputs.shape[1:3]) == (1, 1)
            and self.strides == (1, 1)
            and self.padding == "valid"
        ):
            outputs = ops.einsum(
                "bi,hwoi->bhwo", ops.reshape(inputs, (-1, inputs.shape[-1])), self.kernel
            )
        else:
            return super().call(inputs)
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs

    def _sub_pixel(self, inputs):
        """Output pixel (2i + a, 2j + b) takes input rows i-1..i+1 and columns j-1..j+1 through
        the kernel's taps for phase (a, b): one 3x3 convolution gives the four phases as
        channel groups (a, b), and depth-to-space interleaves them."""
        phases = ops.conv(inputs, self._phase_kernel(), strides=1, padding="same")
        return ops.depth_to_space(phases, 2)

    def _phase_kernel(self):
        """[3, 3, in, 4·out]: phase a's rows are the flipped kernel's rows a, a+2 with a zero
        row after (a = 0) or before (a = 1); columns likewise for b."""
        flipped = ops.flip(ops.transpose(self.kernel, (0, 1, 3, 2)), axis=(0, 1))  # [h, w, in, out]
        kernels = []
        for a in (0, 1):
            rows = ops.pad(flipped[a::2], [[a, 1 - a], [0, 0], [0, 0], [0, 0]])
            for b in (0, 1):
                kernels.append(ops.pad(rows[:, b::2], [[0, 0], [b, 1 - b], [0, 0], [0, 0]]))
        return ops.concatenate(kernels, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(undilated=self.undilated)
        return config
