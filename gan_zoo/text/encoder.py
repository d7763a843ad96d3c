"""The text encoder every model shares: AttnGAN's embedding + bidirectional LSTM."""

import keras
from keras import layers, ops

# What `text_config` saves of a new TextEncoder (its constructor's settings).
ENCODER_SETTINGS = ("embedding_dim", "hidden_dim", "dropout", "seed")


@keras.saving.register_keras_serializable(package="gan_zoo")
class TextEncoder(layers.Layer):
    """Token ids [B, T] -> (word features [B, T, 2H], sentence vector [B, 2H], mask [B, T]).

    Embedding (300-d, uniform ±0.1 as AttnGAN initialises it), dropout, then a bidirectional
    LSTM with `hidden_dim` units per direction. The sentence vector joins the two final hidden
    states, each taken at the caption's last real word (id 0 is padding and is masked); word
    features at padding positions are zero. A `seed` makes the dropout reproducible, also on
    PyTorch, whose unseeded dropout draws from torch's global generator. `use_cudnn=False` keeps
    XLA on under TensorFlow on a GPU, where a cuDNN LSTM would silently switch jit_compile off.
    """

    def __init__(
        self, vocabulary_size, embedding_dim=300, hidden_dim=128, dropout=0.5, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.seed = seed
        self.embedding = layers.Embedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=keras.initializers.RandomUniform(-0.1, 0.1),
            name="embedding",
        )
        self.embedding_dropout = layers.Dropout(dropout, seed=seed, name="embedding_dropout")
        self.rnn = layers.Bidirectional(
            layers.LSTM(hidden_dim, return_sequences=True, return_state=True, use_cudnn=False),
            name="bilstm",
        )

    @property
    def output_dim(self):
        """Width of the word features and of the sentence vector."""
        return 2 * self.hidden_dim

    def build(self, tokens_shape):
        self.embedding.build(tokens_shape)
        self.rnn.build(tuple(tokens_shape) + (self.embedding_dim,))
        self.built = True

    def call(self, tokens, training=False):
        mask = ops.not_equal(tokens, 0)
        x = self.embedding_dropout(self.embedding(tokens), training=training)
        words, forward_h, _, backward_h, _ = self.rnn(x, mask=mask, training=training)
        words = words * ops.expand_dims(ops.cast(mask, words.dtype), -1)
        sentence = ops.concatenate([forward_h, backward_h], axis=-1)
        return words, sentence, mask

    def compute_output_spec(self, tokens, training=None):
        batch, length = tokens.shape
        return (
            keras.KerasTensor((batch, length, self.output_dim), dtype=self.compute_dtype),
            keras.KerasTensor((batch, self.output_dim), dtype=self.compute_dtype),
            keras.KerasTensor((batch, length), dtype="bool"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            embedding_dim=self.embedding_dim,
            hidden_dim=self.hidden_dim,
            dropout=self.dropout,
            seed=self.seed,
        )
        return config


def text_encoder_for(vocabulary, text_encoder, max_length, seed, trainable):
    """The TextEncoder a model reads its captions with, built for `max_length` tokens.

    Args:
        vocabulary: the model's `Vocabulary`, or None for precomputed embeddings.
        text_encoder: an existing `TextEncoder` or `HubTextEncoder` (shared with another
            model), a dict of a new one's settings (embedding_dim, hidden_dim, dropout, seed),
            or None (a new one with the defaults when there is a vocabulary).
        max_length: caption length in tokens.
        seed: the model's seed; a new encoder's dropout follows seed + 1.
        trainable: False freezes the encoder, also for every model that shares it.

    Returns:
        The text encoder, or None when the model reads precomputed embeddings.
    """
    from gan_zoo.text.hub import HubTextEncoder

    if vocabulary is not None and text_encoder is None:
        text_encoder = {}
    if isinstance(text_encoder, dict):
        if vocabulary is None:
            raise ValueError(
                "text_encoder settings need vocabulary=: precomputed embeddings are not encoded."
            )
        settings = {"seed": None if seed is None else seed + 1, **text_encoder}
        text_encoder = TextEncoder(len(vocabulary), name="text_encoder", **settings)
    if text_encoder is None:
        return None
    if not text_encoder.built:
        text_encoder.build((None, max_length))
    hub = isinstance(text_encoder, HubTextEncoder)  # its own vocabulary: hub_text_arguments
    if not hub and (vocabulary is None or text_encoder.vocabulary_size != len(vocabulary)):
        raise ValueError(
            f"The text encoder has {text_encoder.vocabulary_size} entries but the "
            f"vocabulary {len(vocabulary) if vocabulary else 'is missing'}."
        )
    if not trainable:
        text_encoder.trainable = False
    return text_encoder


def text_config(vocabulary, text_encoder):
    """The config entries that rebuild a model's text source through `text_encoder_for`.

    Args:
        vocabulary: the model's `Vocabulary`, or None.
        text_encoder: its `TextEncoder`, `HubTextEncoder` or None.

    Returns:
        {"vocabulary", "text_encoder"}: a hub encoder serialised whole (it holds its tokenizer,
        the vocabulary); else the vocabulary's config and a new encoder's settings.
    """
    from gan_zoo.text.hub import HubTextEncoder

    if isinstance(text_encoder, HubTextEncoder):
        return dict(vocabulary=None, text_encoder=keras.saving.serialize_keras_object(text_encoder))
    return dict(
        vocabulary=vocabulary.get_config() if vocabulary is not None else None,
        text_encoder=None
        if text_encoder is None
        else {key: getattr(text_encoder, key) for key in ENCODER_SETTINGS},
    )
