"""Mixed precision: every model trains under mixed_bfloat16 and mixed_float16 (loss-scaled)."""

import keras
import numpy as np
import pytest
from conftest import tiny_dcgan

from gan_zoo import DAMSM, AttnGAN, StackGAN
from gan_zoo.data import make_dataset


# On TensorFlow, float16's loss scaling (a conditional update inside the step) is tested under
# XLA, as users run it; bfloat16 changes dtypes only, which graph mode checks as strictly.
@pytest.fixture(params=["mixed_bfloat16", pytest.param("mixed_float16", marks=pytest.mark.xla)])
def policy(request):
    keras.config.set_dtype_policy(request.param)
    yield request.param
    keras.config.set_dtype_policy("float32")


def _torch_cpu_cannot_train(policy):
    """Whether PyTorch, on this CPU, has no backward for the convolution the Ds end with (a
    4x4 kernel over a 4x4 map) in the policy's half precision: its slow_conv2d fallback
    raises "grad_weight must be contiguous". float16 has none on any CPU; bfloat16 has one
    where oneDNN takes the convolution (CPUs with AVX512-BF16), not on others."""
    import torch

    if torch.cuda.is_available():
        return False
    layer = keras.layers.Conv2D(1, 4, padding="valid", dtype=policy)
    try:
        layer(torch.randn(2, 4, 4, 8)).float().sum().backward()
    except RuntimeError as error:
        if "grad_weight must be contiguous" not in str(error):
            raise
        return True
    return False


def models(vocab, size):
    yield tiny_dcgan(vocab)
    stage1 = StackGAN.from_preset("small", vocabulary=vocab, image_size=size, seed=0)
    yield stage1
    yield StackGAN(stage=2, stage1=stage1, image_size=2 * size, gf=32, seed=0)  # narrow: cheap
    damsm = DAMSM(vocab, image_encoder="small", image_size=size, seed=0)
    damsm.compile()
    yield damsm
    yield AttnGAN.from_preset("small", damsm=damsm, seed=0)


def test_every_model_trains_in_mixed_precision(policy, shapes32):
    """Where PyTorch has no half-precision backward on this CPU, the models are still built,
    compiled and run in the policy; only their training is left to a GPU."""
    trains = not (keras.backend.backend() == "torch" and _torch_cpu_cannot_train(policy))
    images, captions, _, vocab = shapes32
    # float16 needs 16 steps (a loss scaler starts at 2^15 and halves on each overflowing step,
    # which it skips); bfloat16 has no scaler and moves G in its first step. Batches of 2 keep
    # each step cheap: half-precision convolutions are emulated on most CPUs.
    count = 32 if policy == "mixed_float16" else 4
    images, captions = images[:count], captions[:count]
    images64 = images.repeat(2, axis=1).repeat(2, axis=2)
    for model in models(vocab, 32):
        assert model.dtype_policy.name == policy
        if isinstance(model, DAMSM):  # the encoders AttnGAN then uses, frozen
            if policy == "mixed_float16":
                assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
            if trains:
                history = model.fit(
                    make_dataset(images, captions, vocab, batch_size=2), epochs=1, verbose=0
                )
                assert np.all(np.isfinite(history.history["loss"]))
            continue
        model.compile()
        if policy == "mixed_float16":  # both players' losses are scaled
            assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
            assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
            assert all(
                any(v is s for s in model.optimizer.variables)  # in JAX's train state
                for o in (model.g_optimizer, model.d_optimizer)
                for v in (o.dynamic_scale, o.step_counter)
            )
        if trains:
            data = images64 if model.image_size == 64 else images
            before = [keras.ops.convert_to_numpy(v) for v in model.generator.trainable_variables]
            history = model.fit(
                make_dataset(data, captions, vocab, batch_size=2, seed=0), epochs=1, verbose=0
            ).history
            for name, values in history.items():
                assert np.all(np.isfinite(values)), (type(model).__name__, name, values)
            moved = [
                not np.array_equal(b, keras.ops.convert_to_numpy(v))
                for b, v in zip(before, model.generator.trainable_variables)
            ]
            assert any(moved), type(model).__name__
        # weights stay float32; the images come out as float32 in [-1, 1], then uint8
        assert all(v.dtype == "float32" for v in model.trainable_variables)
        out = model.run_generator(
            np.zeros((2, model.latent_dim), "float32"),
            model.encode_captions(captions[:2][0][:1] * 2),
        )["images"]
        final = out[max(out)]
        assert keras.backend.standardize_dtype(final.dtype) == "float32"
        assert model.generate(["a red circle"], seed=0).dtype == np.uint8
