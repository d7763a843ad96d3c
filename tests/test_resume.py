"""Exact resume on the default pipeline: a training process killed with SIGKILL in mid-epoch
and started again ends with the weights of an uninterrupted run with the same seed.

It trains on make_dataset's tf.data pipeline (the default where TensorFlow is installed) with
random crops, so every epoch's order, crops and caption picks must be replayed exactly, with a
`Checkpoint`, as `gan-zoo train --resume` does (tests/test_cli.py covers the command's side).
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow

RUN = """
import sys, time
import keras, numpy as np
from gan_zoo import DCGANCLS, Vocabulary, callbacks
from gan_zoo.data import make_dataset, shapes

out = sys.argv[1]
keras.utils.set_random_seed(3)
images, captions, _ = shapes.load("train", num_images=128, image_size=32, seed=0)
vocab = Vocabulary.build(captions)
model = DCGANCLS(vocabulary=vocab, image_size=32, ngf=8, ndf=8, text_dim=16, seed=3)
model.compile()
ds = make_dataset(images, captions, vocab, batch_size=16, seed=3, random_crop=True)
assert not isinstance(ds, keras.utils.PyDataset)  # tf.data
slowly = keras.callbacks.LambdaCallback(on_train_batch_end=lambda *_, **__: time.sleep(0.1))
model.fit(ds, epochs=3, verbose=0, callbacks=[slowly, callbacks.Checkpoint(out)])
np.savez(out + "/final.npz", *[keras.ops.convert_to_numpy(w) for w in model.weights])
"""


def start(out):
    return subprocess.Popen(
        [sys.executable, "-c", RUN, str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )


def finish(process):
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode()[-2000:]


def test_a_run_killed_in_mid_epoch_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    pytest.importorskip("tensorflow")
    straight, killed = start(tmp_path / "straight"), start(tmp_path / "killed")
    state = tmp_path / "killed" / "state.json"
    while not state.exists():  # epoch 1 is saved; epoch 2 runs (8 steps of 0.1 s or more)
        assert killed.poll() is None, killed.stderr.read().decode()[-2000:]
        time.sleep(0.02)
    time.sleep(0.3)
    assert killed.poll() is None, "the run finished before it could be killed"
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "killed" / "final.npz").exists()
    finish(start(tmp_path / "killed"))
    finish(straight)
    a = np.load(tmp_path / "straight" / "final.npz")
    b = np.load(tmp_path / "killed" / "final.npz")
    assert len(a.files) == len(b.files) > 50
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
