"""Atomic file writes: a reader (or a killed run) sees the old file or the new one, never half."""

import json
import os


def write_json_atomically(obj, path):
    """Writes JSON beside the target, then renames it into place."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(f"{path}.tmp", "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(f"{path}.tmp", path)
