"""gan_zoo must import, build and generate without TensorFlow when another backend is chosen."""

import subprocess
import sys

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
model = DCGANCLS(vocabulary=vocab, image_size=32, ngf=8, ndf=8, text_dim=16)
out = model.generate(["a red circle"], seed=0)
assert out.shape == (1, 32, 32, 3) and out.dtype == np.uint8
print("ok", __import__("keras").backend.backend())
"""


def test_import_and_generate_without_tensorflow():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            env={"KERAS_BACKEND": "jax", "PATH": "", "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok jax")
