import argparse
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from gan_zoo import cli

pytestmark = pytest.mark.xdist_group("cli")  # module fixtures: one worker runs the file

TINY = [
    "--model",
    "dcgan-cls",
    "--preset",
    "small",
    "--data",
    "shapes",
    "--image-size",
    "32",
    "--num-images",
    "64",
    "--batch-size",
    "32",
    "--eval-samples",
    "24",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert cli.main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    return out


def test_train_writes_checkpoints_grids_plots_and_metrics(run_dir):
    assert (run_dir / "model.keras").exists() and (run_dir / "vocabulary.json").exists()
    assert (run_dir / "samples" / "samples_epoch_001.png").exists()
    assert (run_dir / "samples.png").exists() and (run_dir / "losses.png").exists()
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1 and (run_dir / "checkpoints" / state["checkpoint"]).exists()
    losses = json.loads((run_dir / "losses.json").read_text())  # every term D and G log
    assert set(losses) == {
        "step",
        "d_loss",
        "g_loss",
        "d_real",
        "d_wrong",
        "d_fake",
        "g_fake",
        "g_interp",
    }
    assert losses["step"][-1] == 2 and all(len(v) == len(losses["step"]) for v in losses.values())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["history"]["d_loss"]) == 1
    assert 0.0 <= metrics["alignment"]["alignment"] <= 1.0
    assert metrics["alignment"]["chance"] == pytest.approx(1 / 18)


@pytest.mark.once
def test_existing_run_is_never_overwritten_and_resume_continues(run_dir, tmp_path, capsys):
    with pytest.raises(SystemExit, match="--resume"):
        cli.main(["train", *TINY, "--epochs", "2", "--out", str(run_dir)])
    run = tmp_path / "copy"  # a copied run resumes in its new folder
    shutil.copytree(run_dir, run)
    os.remove(run / "metrics.json")  # as if the run had been killed before its end, while saving
    for name, last in (("quality", 2), ("losses", 4)):  # epoch 2's checkpoint: its points are stale
        record = json.loads((run / f"{name}.json").read_text())
        record = {
            key: values + [last if key in ("epoch", "step") else values[-1]]
            for key, values in record.items()
        }
        (run / f"{name}.json").write_text(json.dumps(record))
    assert (
        cli.main(
            ["train", *TINY, "--batch-size=64", "--epochs", "2", "--resume", "--out", str(run)]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "Resuming" in out and "ignoring --batch-size 64" in out
    )  # it keeps the run's options, and
    # names a differing one given on the command line even where it is the parser's default
    assert json.loads((run_dir / "checkpoints" / "state.json").read_text())["epoch"] == 1
    assert json.loads((run / "checkpoints" / "state.json").read_text())["epoch"] == 2
    assert sorted(os.listdir(run / "checkpoints")) == ["epoch_002.keras", "state.json"]
    assert (run / "samples" / "samples_epoch_002.png").exists()
    assert json.loads((run / "losses.json").read_text())["step"] == [
        2,
        4,
    ]  # the plot continues, batch 32
    quality = json.loads((run / "quality.json").read_text())  # the monitor's curves
    assert quality["epoch"] == [1, 2] and set(quality) >= {"fid", "alignment", "diversity"}
    assert (run / "quality.png").exists()
    history = json.loads((run / "metrics.json").read_text())[
        "history"
    ]  # both epochs, the killed one's too
    assert len(history["d_loss"]) == 2 and history["alignment"] == quality["alignment"]
    changed = (
        tmp_path / "changed"
    )  # a preset whose defaults changed since: the checkpoint's model resumes
    shutil.copytree(run_dir, changed)
    options = json.loads((changed / "run.json").read_text())
    (changed / "run.json").write_text(json.dumps(dict(options, set=["ngf=8"])))
    assert cli.main(["train", *TINY, "--epochs", "2", "--resume", "--out", str(changed)]) == 0
    assert keras.models.load_model(changed / "model.keras").ngf == 32
    older = tmp_path / "older"  # checkpointed before state.json kept every epoch's logs
    shutil.copytree(run_dir, older)
    state = json.loads((older / "checkpoints" / "state.json").read_text())
    state["logs"] = {name: values[-1] for name, values in state.pop("history").items()}
    (older / "checkpoints" / "state.json").write_text(json.dumps(state))
    assert cli.main(["train", *TINY, "--epochs", "1", "--resume", "--out", str(older)]) == 0
    assert (
        json.loads((older / "metrics.json").read_text())["history"]
        == json.loads((run_dir / "metrics.json").read_text())["history"]
    )


@pytest.mark.once
def test_generate_and_evaluate(run_dir, tmp_path):
    image = tmp_path / "img.png"
    assert (
        cli.main(
            [
                "generate",
                "--checkpoint",
                str(run_dir),
                "a small red circle",
                "a big blue square",
                "--num",
                "2",
                "--out",
                str(image),
            ]
        )
        == 0
    )
    import matplotlib.image

    assert matplotlib.image.imread(image).ndim == 3
    report = tmp_path / "report.json"
    assert (
        cli.main(
            [
                "evaluate",
                "--checkpoint",
                str(run_dir / "model.keras"),
                "--num-samples",
                "40",
                "--metrics",
                "fid,kid,alignment,diversity",
                "--out",
                str(report),
            ]
        )
        == 0
    )
    result = json.loads(report.read_text())
    assert set(result["alignment"]["accuracy"]) >= {"shape", "colour"}
    assert (
        result["fid"] > 0
        and np.isfinite(result["kid"])
        and 0 <= result["coverage"]["coverage"] <= 1
    )
    assert (
        result["diversity"]["spread_ratio"] > 0 and result["protocol"]["features"] == "pixels 16x16"
    )
    assert "| FID |" in (tmp_path / "report.md").read_text()
    assert cli.main(["evaluate", "--checkpoint", str(run_dir), "--metrics", "fid,sharpness"]) == 2
    assert cli.main(["evaluate", "--checkpoint", str(run_dir), "--metrics", "r_precision"]) == 2
    with pytest.raises(SystemExit, match="pytorch-fid needs --inception-weights"):
        cli.main(["evaluate", "--checkpoint", str(run_dir), "--features", "pytorch-fid"])
    assert (
        cli.main(
            [
                "evaluate",
                "--checkpoint",
                str(run_dir),
                "--features",
                "pytorch-fid",
                "--inception-weights",
                str(tmp_path / "missing.pth"),
            ]
        )
        == 2
    )
    with pytest.raises(
        SystemExit, match="--inception-weights are for --features inception or pytorch-fid"
    ):
        cli.main(
            [
                "evaluate",
                "--checkpoint",
                str(run_dir),
                "--features",
                "pixels",
                "--inception-weights",
                "w.h5",
            ]
        )
    with pytest.raises(SystemExit, match="is a PyTorch file: .* --features pytorch-fid"):
        cli.main(
            ["evaluate", "--checkpoint", str(run_dir), "--inception-weights", "pt_inception.pth"]
        )
    with pytest.raises(
        SystemExit, match="give the report's .json path"
    ):  # the table would overwrite it
        cli.main(["evaluate", "--checkpoint", str(run_dir), "--out", str(tmp_path / "report.md")])
    with pytest.raises(SystemExit, match="give the report's .json path"):
        cli.main(["evaluate", "--checkpoint", str(run_dir), "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="holds a DCGANCLS, not a DAMSM"):
        cli.main(
            [
                "evaluate",
                "--checkpoint",
                str(run_dir),
                "--damsm",
                str(run_dir),
                "--metrics",
                "r_precision",
            ]
        )
    with pytest.raises(
        SystemExit, match="--attention needs an AttnGAN"
    ):  # refused before any image is drawn
        cli.main(
            [
                "generate",
                "--checkpoint",
                str(run_dir),
                "a red circle",
                "--out",
                str(tmp_path / "no.png"),
                "--attention",
                str(tmp_path / "attention.png"),
            ]
        )
    assert not (tmp_path / "no.png").exists()
    for option in ("--stage1", "--damsm"):  # options of other models are not silently ignored
        with pytest.raises(SystemExit, match=f"{option} is the"):
            cli.main(["train", *TINY, option, str(run_dir), "--out", str(tmp_path / "unused")])
    assert not (tmp_path / "unused").exists()  # refused before anything was written
    given = argparse.Namespace(stage=2, stage1=None, batch_size=64, given={"--stage", "--batch"})
    assert (
        cli._given(given, "stage")
        and cli._given(given, "batch_size")
        and not cli._given(given, "stage1")
    )


@pytest.mark.once
def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(SystemExit, match="No checkpoint"):
        cli.main(["generate", "--checkpoint", str(tmp_path / "nope.keras"), "a red circle"])
    with pytest.raises(SystemExit, match="no model.keras"):
        cli.main(["generate", "--checkpoint", str(tmp_path), "a red circle"])


@pytest.mark.once
def test_empty_caption_on_the_command_line_is_an_error(run_dir, capsys):
    assert cli.main(["generate", "--checkpoint", str(run_dir), "  ", "--out", "unused.png"]) == 2
    assert "empty" in capsys.readouterr().err


@pytest.mark.once
def test_console_script_is_installed():
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "gan-zoo"), "--help"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "train" in result.stdout


@pytest.mark.once
def test_stackgan_two_stages_from_the_command_line(tmp_path):
    common = [
        "--model",
        "stackgan",
        "--preset",
        "small",
        "--num-images",
        "64",
        "--batch-size",
        "32",
        "--eval-samples",
        "8",
        "--epochs",
        "1",
    ]
    stage1_dir, stage2_dir = tmp_path / "s1", tmp_path / "s2"
    assert (
        cli.main(["train", *common, "--stage", "1", "--image-size", "32", "--out", str(stage1_dir)])
        == 0
    )
    assert (
        cli.main(
            [
                "train",
                *common,
                "--stage",
                "2",
                "--stage1",
                str(stage1_dir),
                "--out",
                str(stage2_dir),
            ]
        )
        == 0
    )
    import matplotlib.image

    grid = matplotlib.image.imread(stage2_dir / "samples.png")
    assert grid.shape[1] > grid.shape[0]  # six samples, each Stage-I beside Stage-II
    metrics = json.loads((stage2_dir / "metrics.json").read_text())
    assert "g_fake_uncond" in metrics["history"]
    with pytest.raises(SystemExit, match="--stage1"):
        cli.main(["train", *common, "--stage", "2", "--out", str(tmp_path / "s3")])


@pytest.mark.once
def test_damsm_then_attngan_with_attention_maps(tmp_path):
    small = ["--data", "shapes", "--num-images", "64", "--batch-size", "32", "--epochs", "1"]
    damsm_dir = tmp_path / "damsm"
    assert (
        cli.main(
            [
                "train",
                "--model",
                "damsm",
                "--image-size",
                "32",
                *small,
                "--eval-samples",
                "100",
                "--out",
                str(damsm_dir),
            ]
        )
        == 0
    )
    r_precision = json.loads((damsm_dir / "metrics.json").read_text())["r_precision"]
    assert 0.0 <= r_precision["mean"] <= 1.0 and r_precision["num_samples"] == 100
    with pytest.raises(SystemExit, match="--damsm"):
        cli.main(["train", "--model", "attngan", *small, "--out", str(tmp_path / "nodamsm")])
    with pytest.raises(SystemExit, match="--preset and --set are GAN options"):
        cli.main(
            [
                "train",
                "--model",
                "damsm",
                "--preset",
                "small",
                *small,
                "--out",
                str(tmp_path / "d2"),
            ]
        )
    run = tmp_path / "attngan"
    assert (
        cli.main(
            [
                "train",
                "--model",
                "attngan",
                "--damsm",
                str(damsm_dir),
                "--preset",
                "small",
                *small,
                "--eval-samples",
                "24",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert (run / "attention" / "attention_epoch_001.png").exists() and (
        run / "samples.png"
    ).exists()
    assert (
        cli.main(
            [
                "generate",
                "--checkpoint",
                str(run),
                "a red circle",
                "--out",
                str(tmp_path / "g.png"),
                "--attention",
                str(tmp_path / "attention.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "attention.png").exists()
    with pytest.raises(SystemExit, match="draws no images"):
        cli.main(["generate", "--checkpoint", str(damsm_dir), "a red circle"])
    with pytest.raises(SystemExit, match="holds a DAMSM, which draws no images to evaluate"):
        cli.main(["evaluate", "--checkpoint", str(damsm_dir)])
    report = tmp_path / "report.json"
    assert (
        cli.main(
            [
                "evaluate",
                "--checkpoint",
                str(run),
                "--metrics",
                "r_precision",
                "--num-samples",
                "100",
                "--out",
                str(report),
            ]
        )
        == 0
    )
    assert 0.0 <= json.loads(report.read_text())["r_precision"] <= 1.0


@pytest.mark.once
def test_train_on_a_folder_of_captioned_images(tmp_path):
    from PIL import Image

    root = tmp_path / "mine"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root / f"{i}.png")
        (root / f"{i}.txt").write_text(f"a noisy picture number {i}\nsome random pixels\n")
    run = tmp_path / "run"
    cache = tmp_path / "mine_32.npz"
    assert (
        cli.main(
            [
                "train",
                "--model",
                "dcgan-cls",
                "--preset",
                "small",
                "--data",
                f"folder:{root}",
                "--cache",
                str(cache),
                "--image-size",
                "32",
                "--batch-size",
                "4",
                "--epochs",
                "1",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert (run / "samples.png").exists() and (run / "model.keras").exists()
    assert len(np.load(cache)["images"]) == 8
    assert not (run / "quality.png").exists()  # the shapes oracle has nothing to read here
    report = tmp_path / "report.json"  # measured against the folder's images
    assert (
        cli.main(
            [
                "evaluate",
                "--checkpoint",
                str(run),
                "--data",
                f"folder:{root}",
                "--num-samples",
                "16",
                "--out",
                str(report),
            ]
        )
        == 0
    )
    result = json.loads(report.read_text())
    assert result["fid"] > 0 and np.isfinite(result["kid"]) and "alignment" not in result
    with pytest.raises(SystemExit, match="need --data shapes"):
        cli.main(
            [
                "evaluate",
                "--checkpoint",
                str(run),
                "--data",
                f"folder:{root}",
                "--metrics",
                "fid,alignment",
            ]
        )
    with pytest.raises(SystemExit, match="folder:PATH"):
        cli.main(["train", "--data", "imagenet", "--out", str(tmp_path / "x")])


@pytest.mark.once
def test_a_checkpoint_of_a_run_cut_short_generates_with_the_generator_average(tmp_path):
    """A checkpoint holds G's training weights and their moving average; generate and evaluate
    use the average, which a finished run's model.keras holds as G's weights."""
    import matplotlib.image

    run = tmp_path / "averaged"
    assert (
        cli.main(["train", *TINY, "--set", "generator_ema=0.5", "--epochs", "1", "--out", str(run)])
        == 0
    )

    def outputs(checkpoint, name):
        image, report = tmp_path / f"{name}.png", tmp_path / f"{name}.json"
        assert (
            cli.main(["generate", "--checkpoint", checkpoint, "a red circle", "--out", str(image)])
            == 0
        )
        assert (
            cli.main(
                [
                    "evaluate",
                    "--checkpoint",
                    checkpoint,
                    "--metrics",
                    "fid",
                    "--num-samples",
                    "40",
                    "--out",
                    str(report),
                ]
            )
            == 0
        )
        return matplotlib.image.imread(image), json.loads(report.read_text())["fid"]

    final_image, final_fid = outputs(str(run / "model.keras"), "final")
    os.remove(run / "model.keras")  # as if the run had been killed before writing it
    image, fid = outputs(str(run), "cut_short")  # its newest checkpoint
    np.testing.assert_array_equal(image, final_image)
    assert fid == pytest.approx(final_fid, rel=1e-6)
