"""Captions to numbers: the vocabulary and the shared text encoder."""

from gan_zoo.text.encoder import TextEncoder, text_encoder_for
from gan_zoo.text.hub import HubTextEncoder, HubVocabulary
from gan_zoo.text.vocabulary import Vocabulary, tokenize

__all__ = [
    "HubTextEncoder",
    "HubVocabulary",
    "TextEncoder",
    "Vocabulary",
    "text_encoder_for",
    "tokenize",
]
