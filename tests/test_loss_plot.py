"""LossPlot keeps every term a GAN logs and continues a record an older run left behind."""

import json
from types import SimpleNamespace

import pytest
from PIL import Image

from gan_zoo.callbacks import LossPlot

pytestmark = pytest.mark.once  # a matplotlib callback: the same on every backend


def test_every_logged_term_is_kept_and_an_older_record_continues(tmp_path):
    # step 12 was recorded in an epoch that a kill cut short: the checkpoint is at step 10
    (tmp_path / "losses.json").write_text(
        json.dumps({"step": [10, 12], "d_loss": [1.0, 9.0], "g_loss": [2.0, 9.0]})
    )
    plot = LossPlot(str(tmp_path / "losses.png"), every=1)
    plot.set_model(
        SimpleNamespace(
            name="stackgan",
            loss_names=("d_loss", "g_loss", "d_real", "kl"),
            optimizer=SimpleNamespace(iterations=10),
        )
    )
    plot.on_train_begin()
    logs = {"d_loss": 0.5, "g_loss": 1.5, "d_real": 0.25, "kl": 0.125, "learning_rate": 2e-4}
    for batch in range(2):
        plot.on_train_batch_end(batch, logs)
    plot.on_epoch_end(0, logs)
    history = json.loads((tmp_path / "losses.json").read_text())
    assert history["step"] == [10, 11, 12]
    assert set(history) == {
        "step",
        "d_loss",
        "g_loss",
        "d_real",
        "kl",
    }  # what the model logs, no more
    assert history["d_loss"] == [1.0, 0.5, 0.5] and history["kl"] == [0.125, 0.125]
    with Image.open(tmp_path / "losses.png") as image:  # two panels side by side
        assert image.width > 1.5 * image.height


def test_a_sample_grid_is_a_whole_png_and_a_ragged_one_is_refused(tmp_path):
    import numpy as np

    from gan_zoo.utils.plots import save_image_grid

    images = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    save_image_grid(
        images, str(tmp_path / "grid.png"), row_labels=["a red circle", "a blue square"]
    )
    assert Image.open(tmp_path / "grid.png").format == "PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]  # no temporary file left
    for count in (5, 1):  # 5 images in 2 rows; fewer images than rows
        with pytest.raises(ValueError, match=f"2 labelled rows .* got {count} images"):
            save_image_grid(images[:count], str(tmp_path / "bad.png"), row_labels=["a", "b"])
