"""Named settings of the models (the authors' widths and schedules) and nested configs."""

import keras


def preset_settings(presets, preset, given, part=None):
    """A preset's settings (with its `part` sub-dict merged in, e.g. Stage-II's widths), then
    each entry of `given` that is not None in their place; an unknown preset is named."""
    if preset not in presets:
        raise ValueError(f"Unknown preset {preset!r}; choose from {sorted(presets)}")
    settings = {k: v for k, v in presets[preset].items() if not isinstance(v, dict)}
    settings.update(presets[preset].get(part, {}) if part else {})
    settings.update({k: v for k, v in given.items() if v is not None})
    return settings


def deserialize_entry(config, key):
    """A config whose `key` (a model this one builds on, saved inside it) is deserialized."""
    if isinstance(config.get(key), dict):
        config = dict(config, **{key: keras.saving.deserialize_keras_object(config[key])})
    return config
