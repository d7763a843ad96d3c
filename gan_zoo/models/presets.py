"""Named configurations of the models (the authors' widths and schedules), and nested configs.

A model's `PRESETS` maps each name to the constructor arguments of that configuration, every
setting it fixes written out (its "birds" entry equals the constructor's defaults). A sub-dict
holds the settings of one part only, e.g. StackGAN's "stage2" widths.
"""

import keras


def preset_settings(model_cls, name, part=None, recipe="paper"):
    """The constructor arguments of `model_cls.PRESETS[name]`, its `part` sub-dict merged over
    the rest (the other sub-dicts left out), then `model_cls.RECIPES[recipe]` over those. An
    unknown preset or recipe is refused with the choices."""
    presets, recipes = model_cls.PRESETS, model_cls.RECIPES
    if name not in presets:
        raise ValueError(
            f"Unknown {model_cls.__name__} preset {name!r}; choose from {sorted(presets)}"
        )
    if recipe not in recipes:
        raise ValueError(
            f"Unknown {model_cls.__name__} recipe {recipe!r}; choose from {sorted(recipes)}"
        )
    settings = {k: v for k, v in presets[name].items() if not isinstance(v, dict)}
    settings.update(presets[name].get(part, {}) if part else {})
    return {**settings, **recipes[recipe]}


def deserialize_entry(config, key):
    """A config whose `key` (a model this one builds on, saved inside it) is deserialized."""
    if isinstance(config.get(key), dict):
        config = dict(config, **{key: keras.saving.deserialize_keras_object(config[key])})
    return config
