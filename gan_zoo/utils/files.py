"""Atomic file writes: a reader (or a killed run) sees the old file or the new one, never half."""

import json
import os


def write_text_atomically(text, path):
    """Writes the text beside the target, then renames it into place."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(f"{path}.tmp", "w") as f:
        f.write(text)
    os.replace(f"{path}.tmp", path)


def write_json_atomically(obj, path):
    """JSON (numpy scalars and booleans included), written atomically."""
    write_text_atomically(json.dumps(obj, indent=1, default=_plain), path)


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
