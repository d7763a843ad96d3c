"""The same step on every installed backend: TensorFlow, JAX and PyTorch agree, with the papers'
recipes and with the remedies (R1's gradient of a gradient among them)."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

# subprocesses choose their backend: run once; one worker runs the file (its shared runs)
pytestmark = [pytest.mark.cross_backend, pytest.mark.xdist_group("backends")]

BACKENDS = [b for b in ("tensorflow", "jax", "torch") if importlib.util.find_spec(b)]


# Each backend's configurations (devices:xla), run by one subprocess per backend: the step
# on one device as users run it, and the data-parallel step with its one-device reference
# (a tf.distribute strategy turns TensorFlow's XLA off, so its reference runs without XLA).
CONFIGS = {"tensorflow": ["1:default", "1:off", "2:default"], "jax": ["1:default", "4:default"]}


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    """{backend: {"DEVICES:XLA": that run's results}} for every installed backend."""
    weights_dir = tmp_path_factory.mktemp("weights")
    results = {}
    for backend in BACKENDS:
        configs = CONFIGS.get(backend, ["1:default"])
        devices = max(int(c.split(":")[0]) for c in configs)
        out = tmp_path_factory.mktemp(backend)
        env = dict(
            os.environ,
            KERAS_BACKEND=backend,
            JAX_PLATFORMS="cpu",
            CUDA_VISIBLE_DEVICES="",
            XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
        )
        script = os.path.join(os.path.dirname(__file__), "backend_step.py")
        result = subprocess.run(
            [sys.executable, script, str(weights_dir), str(out), *configs],
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{backend}:\n{result.stderr[-3000:]}"
        results[backend] = {c: dict(np.load(out / f"{c.replace(':', '-')}.npz")) for c in configs}
    return results


@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs two installed backends")
def test_one_step_is_the_same_on_every_backend(steps):
    results = {b: steps[b]["1:default"] for b in BACKENDS}
    reference_backend, *others = BACKENDS
    reference = results[reference_backend]
    keys = sorted(reference)
    for model in ("dcgan", "stackgan1"):  # the step moved weights and BN statistics alike
        moved = [
            k.split("/var/")[1]
            for k in keys
            if k.startswith(f"{model}/var/")
            and not np.array_equal(reference[k], reference[k.replace("/var/", "/init/")])
        ]
        assert any("kernel" in k for k in moved) and any("moving_mean" in k for k in moved), model
        assert reference[f"{model}/steps"].tolist() == [1, 1, 1], model  # one step for each player
    # the remedies' model: two D steps for G's one, R1 logged
    assert reference["dcgan_remedies/steps"][:2].tolist() == [1, 2]
    assert "dcgan_remedies/loss/d_r1" in keys
    for backend in others:
        assert sorted(results[backend]) == keys, backend
        for key in keys:
            np.testing.assert_allclose(
                results[backend][key],
                reference[key],
                rtol=2e-3,
                atol=2e-5,
                err_msg=f"{key}: {backend} vs {reference_backend}",
            )


@pytest.mark.parametrize("backend, devices", [("jax", 4), ("tensorflow", 2)])
def test_data_parallel_step_equals_one_device_step(backend, devices, steps):
    """JAX: keras.distribution.DataParallel on 4 CPU devices; TensorFlow: a MirroredStrategy
    on 2 logical CPUs. The same global batch of 8 gives the same update and the same logged
    losses as one device: hand-written loss means are scaled by the replica count for the
    gradients but not in the logs, and BatchNorm sees the global batch. A strategy turns
    TensorFlow's XLA off, so its one-device reference runs without XLA too: the two runs differ
    in the distribution alone."""
    if backend not in BACKENDS:
        pytest.skip(f"{backend} is not installed")
    xla = "off" if backend == "tensorflow" else "default"
    one, many = dict(steps[backend][f"1:{xla}"]), dict(steps[backend][f"{devices}:default"])
    assert many.pop("devices") == devices and one.pop("devices") == 1
    one = {k: v for k, v in one.items() if not k.startswith("dcgan_remedies/")}
    assert sorted(one) == sorted(many)
    for key in one:
        if key.startswith("dcgan/"):  # GAN-INT pairs rows across the whole batch: it trains
            assert np.all(np.isfinite(many[key])), key
        else:
            np.testing.assert_allclose(many[key], one[key], rtol=2e-3, atol=2e-5, err_msg=key)
