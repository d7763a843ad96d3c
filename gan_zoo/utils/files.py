"""Atomic file writes (a reader, or a killed run, sees the old file or the new one, never
half; a full disk is named with the space needed) and the one reader of model files."""

import contextlib
import errno
import json
import os
import shutil
import zipfile

import numpy as np

# The errors of a full disk or quota; h5py's carry no errno, only the C library's message.
DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
# What reading a model archive raises for a file that is not a whole gan_zoo model: zipfile's
# and h5py's errors, and Keras's for a config or weights of no model it knows.
UNREADABLE = (zipfile.BadZipFile, EOFError, OSError, KeyError, TypeError, ValueError)


class DiskFullError(OSError):
    """The disk (or a quota) filled up while a file was written: the file was not written,
    and the one it would have replaced is intact."""

    def __str__(self):
        return self.strerror


class UnreadableModelError(ValueError):
    """A model file that exists but cannot be read: empty, cut short, corrupted, or no
    gan_zoo model."""


@contextlib.contextmanager
def atomic_file(path, mode="w"):
    """An open file to write `path` through: a temporary file beside it (same file system, so
    the rename is atomic), flushed, fsynced and renamed over `path` only when the block ends
    without an error. An error removes the temporary file and leaves `path` as it was; a full
    disk raises `DiskFullError`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _rename_durably(temporary, path)
    except BaseException as error:
        _remove(temporary)
        if _disk_full(error):
            raise _disk_full_error(path) from error
        raise


def write_text_atomically(text, path):
    """Writes the text beside the target, then renames it into place."""
    with atomic_file(path) as f:
        f.write(text)


def write_json_atomically(obj, path):
    """JSON (numpy scalars and booleans included), written atomically."""
    write_text_atomically(json.dumps(obj, indent=1, default=_plain), path)


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def save_model_atomically(model, path, previous=None):
    """`model.save(path)` through a temporary `.keras` file beside it, fsynced and renamed
    into place: an error (a kill, a full disk) leaves `path` as it was.

    Args:
        model: the Keras model to save.
        path: the `.keras` file to write.
        previous: an earlier save of the same model (the last checkpoint): its size is the
            space a full disk's error says the file needs (else `path`'s, or the size of the
            model's weights and optimizer state).

    Raises:
        DiskFullError: the disk or a quota filled up; it names the folder, the space needed
            and the space free.
    """
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f"partial_{os.getpid()}_{name}")
    try:
        model.save(temporary)
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        _rename_durably(temporary, path)
    except BaseException as error:
        _remove(temporary)
        if _disk_full(error):
            raise _disk_full_error(path, _space_needed(model, [previous, path])) from error
        raise


def _space_needed(model, earlier):
    """ "about N MB" (the first of the `earlier` files that exists) or "at least N MB" (the
    model's variables and its optimizers', as stored)."""
    for path in earlier:
        if path and os.path.isfile(path):
            return f"about {_megabytes(os.path.getsize(path))}"
    optimizer = getattr(model, "optimizer", None)
    variables = {id(v): v for v in [*model.variables, *getattr(optimizer, "variables", ())]}
    size = sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables.values())
    return f"at least {_megabytes(size)}"


def _disk_full(error):
    """Whether `error` is a full disk or quota."""
    return isinstance(error, OSError) and (
        error.errno in DISK_FULL or "No space left on device" in str(error)
    )


def _disk_full_error(path, needed=None):
    """The `DiskFullError` of `path`: it names the file, the space it needs (where `needed`
    says) and the space free in its folder."""
    folder = os.path.dirname(os.path.abspath(path))
    free = shutil.disk_usage(folder).free
    return DiskFullError(
        errno.ENOSPC,
        f"The disk is full: {path} was not written ("
        + (f"it needs {needed}; " if needed else "")
        + f"{_megabytes(free)} free in {folder}). What was there before is kept as it was: "
        "free some space there (or write elsewhere) and run again.",
        path,
    )


def _megabytes(size):
    return f"{size / 1e6:,.1f} MB"


def _remove(path):
    if os.path.exists(path):
        os.remove(path)


def _rename_durably(temporary, path):
    """Renames a written, fsynced file over `path`, then fsyncs the folder so that the rename
    itself survives a power failure (where the platform can open folders)."""
    os.replace(temporary, path)
    try:
        folder = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def load_model(path):
    """A gan_zoo model (its classes registered with Keras) from its `.keras` file, the file
    checked first, so that a bad one is named with what is wrong with it.

    Args:
        path: a `.keras` file: a saved model or a `Checkpoint`'s epoch file.

    Returns:
        The model, as `keras.models.load_model` returns it.

    Raises:
        FileNotFoundError: there is no file at `path`.
        UnreadableModelError: the file is empty, cut short, corrupted or holds no gan_zoo
            model.
    """
    import keras

    import gan_zoo.models  # noqa: F401  (registers the model classes with Keras)

    return _read_model_file(path, keras.models.load_model)


def load_weights(model, path):
    """`model.load_weights(path)`, the `.keras` file checked and its faults named as
    `load_model` names them."""
    _read_model_file(path, model.load_weights)


def _read_model_file(path, read):
    """`read(path)` after checking the archive; what is wrong with the file becomes an
    `UnreadableModelError` naming it."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path}.")
    try:
        fault = _archive_fault(path)
        if fault is None:
            return read(path)
    except UNREADABLE as error:
        fault = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UnreadableModelError(_unreadable(path, fault)) from error
    raise UnreadableModelError(_unreadable(path, fault))


def _archive_fault(path):
    """What makes `path` no whole `.keras` archive, or None where it is one. Reads every
    member, as their checksums are checked only then (about a second per GB)."""
    if os.path.isdir(path):
        return "a folder, not a file"
    size = os.path.getsize(path)
    if not size:
        return "the file is empty"
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            cut_short = f.read(4) == b"PK\x03\x04"
        return f"a zip archive cut short at {size:,} bytes" if cut_short else "not a zip archive"
    with zipfile.ZipFile(path) as archive:
        corrupted = archive.testzip()
        if corrupted:
            return f"{corrupted} in it is corrupted: its checksum does not match"
        if "config.json" not in archive.namelist():
            return "a zip archive without the config.json of a Keras model"
    return None


def _unreadable(path, fault):
    return (
        f"{path} is not a readable gan_zoo model file ({fault}). It may be a copy or save "
        "that was cut short, or another kind of file: copy or save it again, or use another "
        "checkpoint."
    )
