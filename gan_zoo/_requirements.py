"""What gan_zoo needs from Keras, checked at import so a mismatch fails with what to install."""

SUPPORTED_BACKENDS = ("tensorflow", "jax", "torch")
MINIMUM_KERAS = (3, 15)  # keras.optimizers.MultiOptimizer carries both players' optimizer state


def check(keras_version, backend):
    """Raises ImportError naming the fix when Keras is too old or the backend is unsupported."""
    found = tuple(int(part) for part in keras_version.split(".")[:2])
    if found < MINIMUM_KERAS:
        raise ImportError(
            f"gan_zoo needs Keras >= {'.'.join(map(str, MINIMUM_KERAS))} (for "
            f"keras.optimizers.MultiOptimizer); found {keras_version}. Run "
            "`pip install -U 'keras>=3.15'`."
        )
    if backend not in SUPPORTED_BACKENDS:
        raise ImportError(
            f"gan_zoo runs on the {', '.join(SUPPORTED_BACKENDS)} backends; "
            f"KERAS_BACKEND={backend}. Set KERAS_BACKEND to one of them (and "
            "`pip install jax` or `pip install torch` for those backends)."
        )
