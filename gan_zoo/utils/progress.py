"""Progress bars for long preparation work (drawing or reading datasets)."""


def progress_bar(total, verbose, unit="image"):
    """A Keras progress bar over `total` units, or None when not `verbose`."""
    if not verbose:
        return None
    import keras

    return keras.utils.Progbar(total, unit_name=unit)
