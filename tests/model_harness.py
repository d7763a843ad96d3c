"""The checks every model's tests share, in the manner of keras-hub's `run_*_test` helpers:
each model's file calls these with its own model and outputs instead of writing its own copy."""

import keras
import numpy as np


def assert_reload_gives_the_same(model, path, outputs, rtol=0.0, atol=0.0):
    """Saves `model` as a `.keras` file, loads it back and checks that nothing was lost.

    Args:
        model: a built (and possibly compiled and trained) model of the zoo.
        path: where the `.keras` file goes.
        outputs: function model -> arrays (any nest of them) that both models must give alike,
            e.g. `lambda m: m.generate(captions, seed=7)`.
        rtol, atol: tolerances for float outputs; 0 asks for identical values.

    Returns:
        The reloaded model, for checks of the caller's own.
    """
    model.save(path)
    again = keras.models.load_model(path)
    assert type(again) is type(model)
    assert again.vocabulary == model.vocabulary
    mine, theirs = keras.tree.flatten(outputs(model)), keras.tree.flatten(outputs(again))
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        a, b = keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        if rtol or atol:
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(b, a)
    if getattr(model, "optimizer", None) is not None:  # compiled: its state comes back too
        assert again.jit_compile is model.jit_compile
        for a, b in zip(model.optimizer.variables, again.optimizer.variables, strict=True):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(b), keras.ops.convert_to_numpy(a)
            )
    return again
