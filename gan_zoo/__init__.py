"""gan_zoo: the classic text-to-image GANs for Keras 3, trained with `model.fit`.

The public names load on first use (PEP 562), so that importing a light submodule, such as
gan_zoo.cli for `gan-zoo --help`, loads no Keras and no backend. Keras's version and backend
are checked at the first use of a public name, and when gan_zoo.models is imported.

Loading a `.keras` file needs the model classes registered with Keras. `import gan_zoo` does
that when Keras is already loaded (`import keras, gan_zoo`), as it then costs little; in a
process that imports gan_zoo first, `from gan_zoo import DCGANCLS` (any public name) or
`import gan_zoo.models` does it.
"""

import importlib
import sys

__version__ = "0.1.0"

# Each public name and the module that defines it (a submodule's own name: the submodule).
_PUBLIC = {
    "AttnGAN": "gan_zoo.models",
    "DAMSM": "gan_zoo.models",
    "DCGANCLS": "gan_zoo.models",
    "DFGAN": "gan_zoo.models",
    "StackGAN": "gan_zoo.models",
    "TextToImageGAN": "gan_zoo.models",
    "TextEncoder": "gan_zoo.text",
    "Vocabulary": "gan_zoo.text",
    "callbacks": "gan_zoo.callbacks",
    "data": "gan_zoo.data",
    "losses": "gan_zoo.losses",
}
__all__ = list(_PUBLIC)


def __getattr__(name):
    """Imports a public name's module on first access and keeps the name."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'gan_zoo' has no attribute {name!r}")
    import keras

    from gan_zoo import _requirements

    _requirements.check(keras.__version__, keras.backend.backend())
    module = importlib.import_module(_PUBLIC[name])
    value = module if module.__name__ == f"gan_zoo.{name}" else getattr(module, name)
    globals()[name] = value
    return value


if "keras" in sys.modules:  # the backend is loaded already: register the models at once
    importlib.import_module("gan_zoo.models")
