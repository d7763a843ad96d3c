"""Progress bars for long work (drawing or reading datasets, measuring)."""


def progress_bar(total, verbose, unit="image"):
    """A Keras progress bar over `total` units, or None when not `verbose`."""
    if not verbose:
        return None
    import keras

    return keras.utils.Progbar(total, unit_name=unit)


def batch_starts(total, batch_size, verbose=False, unit="image"):
    """The start of each `batch_size` batch over `total` items; with `verbose`, a progress bar
    that advances as each batch is done."""
    bar = progress_bar(total, verbose, unit)
    for start in range(0, total, batch_size):
        yield start
        if bar is not None:
            bar.update(min(start + batch_size, total))
