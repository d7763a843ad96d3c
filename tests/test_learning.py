"""A short real training run on captioned shapes: the images come to follow the captions."""

import pytest

from conftest import EASY_SHAPES as EASY
from conftest import tiny_dcgan
from gan_zoo import Vocabulary
from gan_zoo.data import make_dataset, shapes


@pytest.mark.slow
def test_alignment_rises_well_above_chance():
    images, captions, _ = shapes.load("train", num_images=1920, image_size=32, seed=0, fixed=EASY)
    vocab = Vocabulary.build(captions)
    model = tiny_dcgan(vocab, ngf=32, ndf=32, text_dim=128)  # the "small" preset's widths
    model.compile()
    _, test_captions, truth = shapes.load("test", num_images=200, image_size=32, seed=0, fixed=EASY)
    prompts = [c[0] for c in test_captions]
    oracle = shapes.ShapesOracle()
    before = oracle.score(model.generate(prompts, seed=0), truth)["alignment"]
    history = model.fit(make_dataset(images, captions, vocab, batch_size=64, seed=0), epochs=10, verbose=0)
    after = oracle.score(model.generate(prompts, seed=0), truth)
    chance = shapes.chance_alignment()
    assert before <= 2 * chance
    assert after["alignment"] >= 3 * chance, after
    assert after["accuracy"]["colour"] >= 0.5, after
    # the discriminator learns to tell right captions from wrong ones
    assert history.history["d_wrong"][-1] < history.history["d_wrong"][0]

