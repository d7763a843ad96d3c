"""The authors' DAMSM text encoder (AttnGAN `RNN_ENCODER`, also DF-GAN's) and its vocabulary."""

from gan_zoo.convert.state_dict import StateDict, assign, dense_kernel
from gan_zoo.data.collection import read_pickle
from gan_zoo.text import TextEncoder, Vocabulary


def vocabulary_from_captions_pickle(path):
    """The vocabulary of an AttnGAN `captions.pickle` ([train captions, test captions,
    ixtoword, wordtoix]) with the authors' ids, so their embedding rows line up."""
    content = read_pickle(path)
    if not (
        isinstance(content, (list, tuple)) and len(content) == 4 and isinstance(content[2], dict)
    ):
        raise ValueError(
            f"{path} is not an AttnGAN captions.pickle ([train, test, ixtoword, wordtoix])."
        )
    return Vocabulary.from_authors(content[2])


def text_encoder_from_authors(source, vocabulary):
    """A `TextEncoder` holding the weights of the authors' `text_encoder*.pth` (AttnGAN's
    DAMSM, also DF-GAN's), for captions encoded with `vocabulary` (their captions.pickle's)."""
    state = text_state(source)
    rows, width = state.take("encoder.weight").shape
    encoder = TextEncoder(
        len(vocabulary),
        embedding_dim=width,
        hidden_dim=state.take("rnn.weight_hh_l0").shape[1],
        name="text_encoder",
    )
    encoder.build((None, 1))
    load_text_encoder(state, encoder)
    state.finish()
    return encoder


def text_state(source):
    """A StateDict of an RNN_ENCODER checkpoint."""
    return StateDict.read(source, "AttnGAN RNN_ENCODER (DAMSM text encoder)")


def load_text_encoder(state, encoder):
    """Fills a built `TextEncoder` from an RNN_ENCODER's StateDict. Embedding rows copy as they
    are; each LSTM direction takes kernel W_ih.T, recurrent kernel W_hh.T and one bias
    b_ih + b_hh (PyTorch's gate order i, f, g, o is Keras's)."""
    rows, width, hidden = encoder.vocabulary_size, encoder.embedding_dim, encoder.hidden_dim
    saved_rows = state.take("encoder.weight").shape[0]
    if saved_rows != rows:
        raise ValueError(
            f"{state.source} embeds {saved_rows} words but the vocabulary has {rows}: use "
            "the captions.pickle the encoder was trained with (vocabulary_from_captions_pickle)."
        )
    assign(encoder.embedding, [state.take("encoder.weight", (rows, width))], "encoder")
    weights = []
    for suffix in ("", "_reverse"):
        weights += [
            dense_kernel(state.take(f"rnn.weight_ih_l0{suffix}", (4 * hidden, width))),
            dense_kernel(state.take(f"rnn.weight_hh_l0{suffix}", (4 * hidden, hidden))),
            state.take(f"rnn.bias_ih_l0{suffix}", (4 * hidden,))
            + state.take(f"rnn.bias_hh_l0{suffix}", (4 * hidden,)),
        ]
    assign(encoder.rnn, weights, "rnn")
