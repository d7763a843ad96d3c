"""Atomic file writes: a reader (or a killed run) sees the old file or the new one, never half."""

import contextlib
import json
import os


@contextlib.contextmanager
def atomic_file(path, mode="w"):
    """An open file to write `path` through: a temporary file beside it (same file system, so
    the rename is atomic), flushed, fsynced and renamed over `path` only when the block ends
    without an error. An error removes the temporary file and leaves `path` as it was."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    f = open(temporary, mode)
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _rename_durably(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
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


def save_model_atomically(model, path):
    """`model.save(path)` through a temporary `.keras` file beside it, fsynced and renamed
    into place."""
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f"partial_{os.getpid()}_{name}")
    try:
        model.save(temporary)
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        _rename_durably(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


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
