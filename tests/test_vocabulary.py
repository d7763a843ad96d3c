import numpy as np
import pytest

from gan_zoo import Vocabulary
from gan_zoo.text import tokenize

pytestmark = pytest.mark.once  # tokenising: the same on every backend


def test_tokenize_matches_attngan_regexp():
    assert tokenize("A small, RED bird's wing!") == ["a", "small", "red", "bird", "s", "wing"]


def test_build_orders_by_frequency_and_reserves_pad_and_oov():
    vocab = Vocabulary.build(["a red bird", "a blue bird", ["a bird"]])
    assert vocab.words[:2] == ["<pad>", "<unk>"]
    assert vocab.words[2:4] == ["a", "bird"]  # most frequent first
    assert len(vocab) == 6


def test_encode_pads_truncates_and_marks_unknown_words():
    vocab = Vocabulary.build(["one two three four five"])
    ids = vocab.encode(["one two", "five four three two one", "one zebra"], max_length=4)
    assert ids.dtype == np.int32 and ids.shape == (3, 4)
    assert ids[0].tolist()[2:] == [0, 0]
    assert vocab.decode(ids[1:2]) == ["five four three two"]  # first words kept
    assert ids[2, 1] == vocab.oov_id == 1
    assert vocab.encode("zebra giraffe", max_length=3).tolist() == [[1, 1, 0]]


@pytest.mark.parametrize("caption", ["", "   \n", "?!"])
def test_empty_caption_is_an_error_that_names_it(caption):
    vocab = Vocabulary.build(["a bird"])
    with pytest.raises(ValueError, match="Caption 1"):
        vocab.encode(["a bird", caption])
    with pytest.raises(ValueError, match="Caption 0"):
        Vocabulary.build([caption])


def test_json_round_trip(tmp_path):
    vocab = Vocabulary.build(["a small red circle", "a big blue square"])
    vocab.save(tmp_path / "vocab.json")
    again = Vocabulary.load(tmp_path / "vocab.json")
    assert again == vocab and len(again) == len(vocab)
    assert np.array_equal(again.encode(["a red square"]), vocab.encode(["a red square"]))


def test_missing_vocabulary_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        Vocabulary.load(tmp_path / "nothing.json")


def test_first_caption_takes_a_string_or_the_first_of_a_list():
    from gan_zoo.text.vocabulary import first_caption

    assert first_caption("a red circle") == "a red circle"
    assert first_caption(b"a red circle") == "a red circle"
    assert first_caption(["a red circle", "a circle, red"]) == "a red circle"


def test_a_caption_length_below_one_is_named():
    with pytest.raises(ValueError, match="max_length must be at least 1; got 0"):
        Vocabulary.build(["a red circle"]).encode(["a red circle"], max_length=0)
