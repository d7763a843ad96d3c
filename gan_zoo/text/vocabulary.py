"""Word vocabulary with AttnGAN's tokenisation: lowercase, `\\w+` words."""

import collections
import json
import os
import re

import numpy as np

PAD_TOKEN = "<pad>"
OOV_TOKEN = "<unk>"
_WORD = re.compile(r"\w+")


def tokenize(caption):
    """Splits a caption into lowercase words, as AttnGAN's RegexpTokenizer(r'\\w+') does;
    letters outside ASCII stay in their words ("café"), where AttnGAN first drops them ("caf")."""
    return _WORD.findall(caption.lower())


def iter_captions(captions):
    """Yields every caption string from a string, a list of them, or a list of lists."""
    if isinstance(captions, (str, bytes)):
        captions = [captions]
    for item in captions:
        if isinstance(item, bytes):
            item = item.decode("utf-8")
        if isinstance(item, str):
            yield item
        elif isinstance(item, (list, tuple, np.ndarray)):
            yield from iter_captions(list(item))
        else:
            raise TypeError(f"Captions must be strings; got {type(item).__name__}: {item!r}")


def first_caption(entry):
    """One image's caption: the entry itself if it is a string, else the first of its list."""
    if isinstance(entry, bytes):
        entry = entry.decode("utf-8")
    return entry if isinstance(entry, str) else entry[0]


def _words_of(caption, position):
    """The caption's words, or a ValueError that says which caption is empty."""
    if not caption.strip():
        raise ValueError(f"Caption {position} is empty or only whitespace: {caption!r}")
    words = tokenize(caption)
    if not words:
        raise ValueError(f"Caption {position} has no words (only punctuation?): {caption!r}")
    return words


class Vocabulary:
    """Maps words to integer ids: 0 is padding, 1 stands for any unknown word.

    `unknown=None` gives the AttnGAN authors' convention instead: words from id 1 on and
    unknown words dropped (their `captions.pickle` vocabularies; see `from_authors`).

    Captions are encoded to a fixed length (`max_length`, AttnGAN's WORDS_NUM = 18 by default)
    so tensor shapes never change under XLA. Longer captions keep their first `max_length`
    words (AttnGAN samples 18 words at random instead; keeping the first is deterministic).
    """

    pad_id = 0

    def __init__(self, words, unknown=OOV_TOKEN):
        words = list(words)
        if len(set(words)) != len(words):
            raise ValueError("Vocabulary words must be unique.")
        for reserved in (PAD_TOKEN, unknown):
            if reserved in words:
                raise ValueError(f"{reserved!r} is reserved and cannot be a vocabulary word.")
        self.unknown = unknown
        self.oov_id = None if unknown is None else 1
        self._words = [PAD_TOKEN] + ([] if unknown is None else [unknown]) + words
        self._index = {word: i for i, word in enumerate(self._words)}

    @classmethod
    def from_authors(cls, ixtoword):
        """The vocabulary of an AttnGAN `captions.pickle` (its `ixtoword`: id -> word, id 0 the
        end/padding token), with the same ids, so converted text encoders read the same rows."""
        words = [ixtoword[i] for i in range(len(ixtoword))]
        return cls(words[1:], unknown=None)

    @classmethod
    def build(cls, captions, min_count=1, max_size=None):
        """Builds a vocabulary from captions, most frequent words first (ties alphabetical)."""
        counts = collections.Counter()
        for i, caption in enumerate(iter_captions(captions)):
            counts.update(_words_of(caption, i))
        words = sorted(
            (w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w)
        )
        if max_size is not None:
            words = words[: max(0, max_size - 2)]
        return cls(words)

    @property
    def words(self):
        """All entries, ids in order, the padding and unknown tokens included."""
        return list(self._words)

    def __len__(self):
        return len(self._words)

    def __contains__(self, word):
        return word in self._index

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and self._words == other._words

    def __repr__(self):
        return f"Vocabulary({len(self)} entries)"

    def encode(self, captions, max_length=18):
        """Encodes captions to int32 ids [N, max_length], padded with 0 or truncated."""
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1; got {max_length}")
        captions = list(iter_captions(captions))
        ids = np.zeros((len(captions), max_length), dtype="int32")
        for i, caption in enumerate(captions):
            words = [self._index.get(w, self.oov_id) for w in _words_of(caption, i)]
            words = [w for w in words if w is not None][:max_length]
            if not words:
                raise ValueError(f"Caption {i} has no word this vocabulary knows: {caption!r}")
            ids[i, : len(words)] = words
        return ids

    def decode(self, ids):
        """Turns id rows back into space-separated words, padding dropped."""
        return [
            " ".join(self._words[i] for i in row if i != self.pad_id) for row in np.asarray(ids)
        ]

    def get_config(self):
        config = {"words": self._words[1 if self.unknown is None else 2 :]}
        if self.unknown != OOV_TOKEN:
            config["unknown"] = self.unknown
        return config

    @classmethod
    def from_config(cls, config):
        return cls(config["words"], config.get("unknown", OOV_TOKEN))

    def save(self, path):
        """Writes the vocabulary as JSON, atomically (a run's resume reads it back)."""
        from gan_zoo.utils.files import write_json_atomically

        write_json_atomically(self.get_config(), path)

    @classmethod
    def load(cls, path):
        if not os.path.exists(path):
            raise FileNotFoundError(f"No vocabulary file at {path}")
        with open(path, encoding="utf-8") as f:
            return cls.from_config(json.load(f))
