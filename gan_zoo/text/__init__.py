"""Captions to numbers: the vocabulary and the shared text encoder."""

from gan_zoo.text.encoder import TextEncoder
from gan_zoo.text.vocabulary import Vocabulary, tokenize

__all__ = ["TextEncoder", "Vocabulary", "tokenize"]
