"""gan_zoo must import, train and generate without TensorFlow when another backend is chosen."""

import importlib.util
import subprocess
import sys

import pytest

pytestmark = pytest.mark.cross_backend  # the subprocess chooses its backend; run once

SCRIPT = r"""
import sys
sys.modules["tensorflow"] = None  # any `import tensorflow` now raises ImportError
import numpy as np
import gan_zoo
from gan_zoo import DCGANCLS, Vocabulary
from gan_zoo.data import ArrayDataset, make_dataset, shapes
images, captions, _ = shapes.load(num_images=8, image_size=32)
vocab = Vocabulary.build(captions)
ds = make_dataset(images, captions, vocab, batch_size=4)
assert isinstance(ds, ArrayDataset), type(ds)
model = DCGANCLS(vocabulary=vocab, image_size=32, ngf=8, ndf=8, text_dim=16, seed=0)
model.compile()
history = model.fit(ds, epochs=1, verbose=0).history
assert np.isfinite(history["d_loss"][0]) and np.isfinite(history["g_loss"][0]), history
out = model.generate(["a red circle"], seed=0)
assert out.shape == (1, 32, 32, 3) and out.dtype == np.uint8
print("ok", __import__("keras").backend.backend())
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_import_train_and_generate_without_tensorflow(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env={"KERAS_BACKEND": backend, "PATH": "", "JAX_PLATFORMS": "cpu"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith(f"ok {backend}")


def test_old_keras_or_unknown_backend_is_refused_with_what_to_install():
    from gan_zoo import _requirements

    with pytest.raises(ImportError, match=r"keras>=3.15"):
        _requirements.check("3.12.0", "tensorflow")
    with pytest.raises(ImportError, match="KERAS_BACKEND=openvino"):
        _requirements.check("3.15.1", "openvino")
    _requirements.check("3.15.1", "jax")  # supported: no error


@pytest.mark.once
def test_import_gan_zoo_after_keras_is_enough_to_load_a_saved_model(tmp_path, shapes32):
    """`import keras, gan_zoo` registers the models, so a new process loads a `.keras` file
    without naming a model class first (gan_zoo's public names otherwise load on first use)."""
    from conftest import tiny_dcgan

    path = tmp_path / "tiny.keras"
    tiny_dcgan(shapes32[3]).save(path)
    script = f"import keras, gan_zoo; print(type(keras.models.load_model({str(path)!r})).__name__)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("DCGANCLS")
