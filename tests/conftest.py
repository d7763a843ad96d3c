"""Shared fixtures. Tests run on the backend in KERAS_BACKEND (TensorFlow by default)."""

import functools
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# JAX keeps what it compiles on disk, so the many tests that build the same small models (and
# their subprocesses) compile each program once per run. The key covers JAX's version and flags.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    os.path.join(os.path.dirname(os.path.dirname(__file__)), ".pytest_cache", "jax"),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# pytest-xdist workers share the cores: each computes with its share of threads, or their
# thread pools oversubscribe the CPU and spin against each other (the PyTorch pass ran 4x
# longer). Set before any backend starts; subprocesses the tests start inherit it.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    _threads = max(1, (_cores or 1) // _WORKERS)
    os.environ.setdefault("OMP_NUM_THREADS", str(_threads))  # PyTorch, numpy's BLAS
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(_threads))
    if _threads == 1:  # XLA:CPU on JAX and TensorFlow
        os.environ.setdefault(
            "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gan_zoo import DCGANCLS, Vocabulary  # noqa: E402
from gan_zoo.data import shapes  # noqa: E402

# Big shapes in the centre of a black background: only shape and colour vary (18
# combinations), so small models learn the captions in a few hundred steps on a CPU.
EASY_SHAPES = {"background": "black", "position": "centre", "size": "big"}


@pytest.fixture(scope="session")
def shapes32():
    """128 captioned shapes at 32 px, with their vocabulary."""
    images, captions, attributes = shapes.load("train", num_images=128, image_size=32, seed=0)
    return images, captions, attributes, Vocabulary.build(captions)


@functools.cache
def _easy_draw():
    """The learning tests' 1,920 easy captioned shapes (seed 0) at 32 px: (images, captions,
    attributes), drawn once per session."""
    return shapes.load("train", num_images=1920, image_size=32, seed=0, fixed=EASY_SHAPES)


def easy_training_shapes(size=32):
    """The learning tests' data: 1,920 easy captioned shapes (seed 0) at `size` px (32, or 16:
    the 32 px images averaged 2 x 2), and their captions."""
    images, captions, _ = _easy_draw()
    images, captions = images.copy(), [list(c) for c in captions]
    if size == 16:
        images = images.reshape(-1, 16, 2, 16, 2, 3).mean((2, 4)).astype("uint8")
    return images, captions


def easy_training_labels():
    """The (shape, colour) class labels of `easy_training_shapes`' images."""
    return shapes.class_labels(_easy_draw()[2])


def held_out_score(model, num_images=200):
    """The shapes oracle's score (alignment, per-attribute accuracy) of the model's images
    (seed 0) for held-out easy captions."""
    _, captions, truth = shapes.load(
        "test", num_images=num_images, image_size=32, seed=0, fixed=EASY_SHAPES
    )
    return shapes.ShapesOracle().score(model.generate([c[0] for c in captions], seed=0), truth)


def tiny_dcgan(vocabulary, seed=0, **kwargs):
    """A DCGAN-cls small enough to train in seconds on a CPU (32 px, widths 8)."""
    keras.utils.set_random_seed(seed)
    options = dict(vocabulary=vocabulary, image_size=32, ngf=8, ndf=8, text_dim=16, seed=seed)
    options.update(kwargs)
    return DCGANCLS(**options)


def trainable_count(model):
    """Trainable parameters, counted as PyTorch's `requires_grad` parameters are."""
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def authors_layout(network):
    """Names and shapes of one of the authors' checkpoints (tests/data/authors_state_dicts,
    listed from their own classes): {"state_dict": {name: shape}, "trainable_params": ...}."""
    with open(
        os.path.join(os.path.dirname(__file__), "data", "authors_state_dicts", f"{network}.json")
    ) as f:
        return json.load(f)


def fabricate_state_dict(shapes, seed=0, gain=1.0, prefix=""):
    """Random torch tensors with exactly these names and shapes, as a checkpoint of the authors'
    holds them: kernels N(0, gain²/fan_in) so activations keep their scale, BatchNorm
    statistics near the identity, `num_batches_tracked` an int64 scalar."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        module = key.rsplit(".", 1)[0]
        batch_norm = f"{module}.running_var" in shapes
        if key.endswith("num_batches_tracked"):
            value = torch.tensor(3, dtype=torch.int64)
        elif key.endswith("running_var"):
            value = torch.rand(shape, generator=generator) + 0.5
        elif batch_norm and key.endswith(".weight"):
            value = 1 + 0.1 * torch.randn(shape, generator=generator)
        elif len(shape) == 1:  # biases, BatchNorm betas and running means
            value = 0.1 * torch.randn(shape, generator=generator)
        else:
            value = torch.randn(shape, generator=generator) * gain / np.sqrt(np.prod(shape[1:]))
        state[prefix + key] = value
    return state


# The pass that runs the `once` tests which are not slow: the Makefile names PyTorch, whose
# eager steps make a test of a few steps cheapest (no tracing or compilation); a plain `pytest`
# runs them on the backend it runs, TensorFlow by default.
ONCE_BACKEND = os.environ.get("GAN_ZOO_ONCE_BACKEND", "tensorflow")


def pytest_collection_modifyitems(config, items):
    """Slow tests first: `make test` hands each test (or each file marked `xdist_group`) to
    whichever worker is free in this order, so that no long test starts last (the tutorials, a
    file of their own, no longer run one after another on one worker).

    Every pass runs the tests whose outcome depends on the backend. Tests that start every
    backend in subprocesses (`cross_backend`) run in the TensorFlow pass. Tests whose outcome
    is the same on every backend (`once`: loaders, vocabulary, file handling, the command line,
    parameter counts) run in one pass: the slow ones (the notebooks, TensorFlow kernels) in the
    TensorFlow pass, the others in `GAN_ZOO_ONCE_BACKEND`'s."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    backend = keras.backend.backend()
    for item in items:
        if "cross_backend" in item.keywords:
            home = "tensorflow"
        elif "once" in item.keywords:
            home = "tensorflow" if "slow" in item.keywords else ONCE_BACKEND
        else:
            continue
        if backend != home:
            reason = (
                "does not depend on the backend"
                if "once" in item.keywords
                else ("starts every backend itself")
            )
            item.add_marker(pytest.mark.skip(reason=f"{reason}: runs in the {home} pass"))


if keras.backend.backend() == "tensorflow":
    from gan_zoo.training import tensorflow as tensorflow_training

    XLA_DEFAULT = tensorflow_training.default_jit_compile  # the library's

    def _xla_where_marked(request):
        """On TensorFlow, tests compile without XLA unless marked `xla`: XLA:CPU's compilation
        is about half the time of a test that trains a few steps, and what such a test checks
        (files, resuming, schedules, shapes) does not depend on it. XLA stays on where it is the
        subject or where training is long enough to gain from it; JAX's pass compiles
        everything with XLA."""
        before = tensorflow_training.default_jit_compile
        xla = request.node.get_closest_marker("xla") is not None
        tensorflow_training.default_jit_compile = XLA_DEFAULT if xla else (lambda: False)
        yield
        tensorflow_training.default_jit_compile = before

    # module fixtures (models trained once per file) run before function ones: set it at both
    xla_for_the_module = pytest.fixture(scope="module", autouse=True)(_xla_where_marked)
    xla_for_the_test = pytest.fixture(autouse=True)(_xla_where_marked)
