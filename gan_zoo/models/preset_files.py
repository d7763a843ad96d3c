"""Presets on disk: every model of the zoo saved as keras-hub saves a model, and loaded back
from a directory or a kaggle:// or hf:// handle through keras-hub's preset machinery
(`keras_hub.src.utils.preset_utils`), so handles behave as they do in keras-hub.

A preset directory holds:

- `config.json`: the model's Keras config as keras-hub writes it (no compile or build config),
  a model it holds saved inside it (AttnGAN's DAMSM, a Stage-II's Stage-I), and the path of
  the vocabulary asset where the vocabulary was;
- `model.weights.h5`: every weight, those of the models it holds included, and the seed states;
- `metadata.json`: Keras and keras-hub versions, parameter count, date;
- `assets/tokenizer/vocabulary.json`: the `Vocabulary` (as `Vocabulary.save` writes it), for a
  model that reads captions;
- `assets/text_encoder/`: instead, a `HubTextEncoder`'s tokenizer files (its vocabulary, and
  merges for CLIP), as keras-hub writes them, for a model that reads captions with one.

keras-hub is imported only here, and only when a preset is saved or loaded: it takes seconds.
"""

import functools
import json
import os

import keras

from gan_zoo.text import Vocabulary

VOCABULARY_ASSET = "assets/tokenizer/vocabulary.json"
HUB_TOKENIZER_ASSETS = "assets/text_encoder"


def save_preset(model, preset_dir):
    """Writes `model` as a preset directory (created if need be; files of the same names in it
    are replaced).

    Args:
        model: a model of the zoo; refused while a weight is NaN or infinite.
        preset_dir: the directory to write.
    """
    from keras_hub.src.utils import preset_utils

    from gan_zoo.divergence import check_finite_weights

    check_finite_weights(model, f"save a preset to {preset_dir}")
    preset_utils.get_preset_saver(preset_dir).save_backbone(model)  # config, metadata, weights
    config_path = os.path.join(preset_dir, preset_utils.CONFIG_FILE)
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    moved = []  # the vocabulary leaves the config for its asset (a model holds at most one)
    config = _swap_vocabulary(config, lambda entry: moved.append(entry) or VOCABULARY_ASSET)
    if moved:
        Vocabulary.from_config(moved[0]).save(os.path.join(preset_dir, VOCABULARY_ASSET))
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=4)
    tokenizer = _hub_tokenizer(model)
    if tokenizer is not None:
        os.makedirs(os.path.join(preset_dir, HUB_TOKENIZER_ASSETS), exist_ok=True)
        tokenizer.save_assets(os.path.join(preset_dir, HUB_TOKENIZER_ASSETS))


def load_preset(cls, preset, **kwargs):
    """The model a preset holds, with its weights.

    Args:
        cls: the class asked for; the preset must hold one of it or of a subclass.
        preset: a preset directory (a str or path), or a kaggle:// or hf:// handle
            (downloaded, or read from the hub's cache).
        **kwargs: config entries to override, as in keras-hub's `from_preset`.

    Returns:
        The model, of the class the preset was saved from.

    Raises:
        ValueError: an unknown handle, or a preset of another class (both named).
        FileNotFoundError: a preset without one of its files.
        ConnectionError: a remote handle that cannot be downloaded here (no network), saying
            how to download it elsewhere and give its local path instead.
    """
    from keras_hub.src.utils import preset_utils

    preset = os.fspath(preset)  # keras-hub takes strings only
    with open(preset_file(cls, preset, preset_utils.CONFIG_FILE), encoding="utf-8") as f:
        config = json.load(f)
    saved = _saved_class(cls, preset, config)
    vocabulary = functools.cache(
        lambda: Vocabulary.load(preset_file(cls, preset, VOCABULARY_ASSET)).get_config()
    )
    config = _swap_vocabulary(
        config, lambda entry: vocabulary() if entry == VOCABULARY_ASSET else entry
    )
    preset_file(cls, preset, preset_utils.MODEL_WEIGHTS_FILE)  # a missing file named as such
    loader = preset_utils.KerasPresetLoader(preset, config)
    model = loader.load_backbone(saved, load_weights=True, **kwargs)
    tokenizer = _hub_tokenizer(model)
    if tokenizer is not None:
        paths = [
            preset_file(cls, preset, f"{HUB_TOKENIZER_ASSETS}/{name}")
            for name in tokenizer.file_assets
        ]
        tokenizer.load_assets(os.path.dirname(paths[0]))
    return model


def _hub_tokenizer(model):
    """The tokenizer of the `HubTextEncoder` a model reads captions with, or None."""
    from gan_zoo.text import HubTextEncoder

    encoder = getattr(model, "text_encoder", None)
    return encoder.tokenizer if isinstance(encoder, HubTextEncoder) else None


def preset_file(cls, preset, path):
    """The local path of one file of a preset, downloaded first for a remote handle; keras-hub's
    errors made into ones that say what is wrong and what to do.

    Args:
        cls: the class loading it, named in the errors.
        preset: the directory or handle.
        path: the file within the preset, e.g. "config.json".

    Returns:
        The local path.
    """
    from keras_hub.src.utils import preset_utils

    try:
        return preset_utils.get_file(preset, path)
    except FileNotFoundError as error:  # the preset lacks it, or the hub could not be reached
        hub = preset_utils.huggingface_hub
        if hub is None or not isinstance(error.__cause__, hub.errors.LocalEntryNotFoundError):
            raise FileNotFoundError(
                f"The preset {preset} holds no {path}: it is no complete saved preset (one is "
                "written by model.save_to_preset(directory) or `gan-zoo convert ... "
                "--to-preset DIRECTORY`; a .keras file loads with keras.models.load_model)."
            ) from error
        unreachable = error.__cause__
    except OSError as error:  # requests' ConnectionError (Kaggle), a timeout
        unreachable = error
    except ValueError as error:  # keras-hub knows no such handle, or a malformed remote one
        if "://" in preset:
            raise
        names = sorted(getattr(cls, "PRESETS", {}))
        unknown = (
            f"No {cls.__name__} preset at {preset}: no such directory"
            if "/" in preset or os.sep in preset
            else f"Unknown {cls.__name__} preset {preset!r}"
        )
        raise ValueError(
            unknown
            + (f"; choose from {names}, or give " if names else "; give ")
            + "the path of a preset directory, or a kaggle:// or hf:// handle."
        ) from error
    raise ConnectionError(
        f"Cannot download {path} of the preset {preset}: its hub cannot be reached (no "
        f"network?). A remote preset needs a download: {_download_advice(cls, preset)}."
    ) from unreachable


def _download_advice(cls, preset):
    """How to download a remote preset on another machine and load it from its directory."""
    scheme, _, handle = preset.partition("://")
    if scheme == "kaggle":  # kaggle://org/model/keras/variation[/version]
        name = handle.split("/")[3]
        command = (
            f"`python -c \"import kagglehub; print(kagglehub.model_download('{handle}'))\"` (it "
            f"prints the directory, to copy as {name})"
        )
    else:
        name = handle.rstrip("/").rpartition("/")[2]
        command = f"`hf download {handle} --local-dir {name}`" if scheme == "hf" else "its download"
    return (
        f"run {command} on a machine with internet, bring the {name} directory here and give "
        f"its local path instead: {cls.__name__}.from_preset('./{name}')"
    )


def _saved_class(cls, preset, config):
    """The registered class a preset's config names, refused unless it is `cls` or a subclass."""
    name = config.get("registered_name") if isinstance(config, dict) else None
    saved = keras.saving.get_registered_object(name) if name else None
    if isinstance(saved, type) and issubclass(saved, cls):
        return saved
    refused = f"{cls.__name__}.from_preset cannot load the preset {preset}: "
    if saved is None:
        raise ValueError(refused + f"its config.json names no class of gan_zoo ({name or 'none'}).")
    held = saved.__name__
    raise ValueError(refused + f"it holds a {held}; load it with {held}.from_preset({preset!r}).")


def _swap_vocabulary(config, swap):
    """`config` with each "vocabulary" entry that is set, at any depth, replaced by
    `swap(entry)`."""
    if isinstance(config, list):
        return [_swap_vocabulary(item, swap) for item in config]
    if not isinstance(config, dict):
        return config
    return {
        key: swap(value)
        if key == "vocabulary" and value is not None
        else _swap_vocabulary(value, swap)
        for key, value in config.items()
    }
