import argparse
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from gan_zoo import DCGANCLS, cli

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
def test_an_existing_run_is_never_overwritten(run_dir):
    with pytest.raises(SystemExit, match="--resume"):
        cli.main(["train", *TINY, "--epochs", "2", "--out", str(run_dir)])
    assert json.loads((run_dir / "checkpoints" / "state.json").read_text())["epoch"] == 1


@pytest.mark.once
def test_a_resumed_run_keeps_its_options_and_names_those_it_ignores(run_dir, tmp_path, capsys):
    run = tmp_path / "copy"
    shutil.copytree(run_dir, run)
    assert (
        cli.main(
            ["train", *TINY, "--batch-size=64", "--epochs", "1", "--resume", "--out", str(run)]
        )
        == 0
    )
    out = capsys.readouterr().out
    # it keeps the run's options, and names a differing one given on the command line even
    # where it is the parser's default
    assert "Resuming" in out and "ignoring --batch-size 64" in out
    assert json.loads((run / "run.json").read_text())["batch_size"] == 32  # what it ran with


@pytest.mark.once
def test_a_run_killed_while_saving_resumes_in_its_new_folder_with_its_whole_history(
    run_dir, tmp_path
):
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
    assert cli.main(["train", *TINY, "--epochs", "2", "--resume", "--out", str(run)]) == 0
    assert json.loads((run_dir / "checkpoints" / "state.json").read_text())["epoch"] == 1
    assert json.loads((run / "checkpoints" / "state.json").read_text())["epoch"] == 2
    assert sorted(os.listdir(run / "checkpoints")) == ["epoch_002.keras", "state.json"]
    assert (run / "samples" / "samples_epoch_002.png").exists()
    # the plot continues, batch 32
    assert json.loads((run / "losses.json").read_text())["step"] == [2, 4]
    quality = json.loads((run / "quality.json").read_text())  # the monitor's curves
    assert quality["epoch"] == [1, 2] and set(quality) >= {"fid", "alignment", "diversity"}
    assert (run / "quality.png").exists()
    # both epochs, the killed one's too
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert len(history["d_loss"]) == 2 and history["alignment"] == quality["alignment"]


@pytest.mark.once
def test_a_run_whose_preset_changed_since_resumes_the_model_its_checkpoint_holds(run_dir, tmp_path):
    changed = tmp_path / "changed"  # a preset whose defaults changed since
    shutil.copytree(run_dir, changed)
    options = json.loads((changed / "run.json").read_text())
    (changed / "run.json").write_text(json.dumps(dict(options, set=["ngf=8"])))
    assert cli.main(["train", *TINY, "--epochs", "2", "--resume", "--out", str(changed)]) == 0
    assert keras.models.load_model(changed / "model.keras").ngf == 32


@pytest.mark.once
def test_a_run_checkpointed_before_state_json_kept_every_epochs_logs_keeps_its_history(
    run_dir, tmp_path
):
    older = tmp_path / "older"
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
def test_generate_writes_a_grid_of_images(run_dir, tmp_path):
    import matplotlib.image

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
    assert matplotlib.image.imread(image).ndim == 3


@pytest.mark.once
def test_evaluate_writes_a_report_and_its_markdown_table(run_dir, tmp_path):
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


@pytest.mark.once
def test_evaluate_refuses_an_unknown_metric(run_dir):
    assert cli.main(["evaluate", "--checkpoint", str(run_dir), "--metrics", "fid,sharpness"]) == 2


@pytest.mark.once
def test_r_precision_needs_a_damsm(run_dir):
    assert cli.main(["evaluate", "--checkpoint", str(run_dir), "--metrics", "r_precision"]) == 2


@pytest.mark.once
def test_pytorch_fid_features_need_their_weights(run_dir):
    with pytest.raises(SystemExit, match="pytorch-fid needs --inception-weights"):
        cli.main(["evaluate", "--checkpoint", str(run_dir), "--features", "pytorch-fid"])


@pytest.mark.once
def test_missing_pytorch_fid_weights_are_an_error(run_dir, tmp_path):
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


@pytest.mark.once
def test_inception_weights_are_refused_with_pixel_features(run_dir):
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


@pytest.mark.once
def test_a_pytorch_file_is_refused_as_keras_inception_weights(run_dir):
    with pytest.raises(SystemExit, match="is a PyTorch file: .* --features pytorch-fid"):
        cli.main(
            ["evaluate", "--checkpoint", str(run_dir), "--inception-weights", "pt_inception.pth"]
        )


@pytest.mark.once
def test_the_report_path_must_be_a_json_file(run_dir, tmp_path):
    # a Markdown path: the table would overwrite it
    with pytest.raises(SystemExit, match="give the report's .json path"):
        cli.main(["evaluate", "--checkpoint", str(run_dir), "--out", str(tmp_path / "report.md")])
    with pytest.raises(SystemExit, match="give the report's .json path"):
        cli.main(["evaluate", "--checkpoint", str(run_dir), "--out", str(tmp_path)])


@pytest.mark.once
def test_evaluate_refuses_a_damsm_that_is_not_one(run_dir):
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


@pytest.mark.once
def test_attention_maps_need_an_attngan_and_are_refused_before_any_image_is_drawn(
    run_dir, tmp_path
):
    with pytest.raises(SystemExit, match="--attention needs an AttnGAN"):
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


@pytest.mark.once
@pytest.mark.parametrize("option", ["--stage1", "--damsm"])
def test_options_of_other_models_are_refused_not_ignored(run_dir, tmp_path, option):
    # --stage1 on a DCGAN-cls; --damsm on a Stage-II, which reads captions with its Stage-I's
    model = TINY if option == "--stage1" else [*STACKGAN_TINY, "--stage", "2"]
    with pytest.raises(SystemExit, match=f"{option} is the"):
        cli.main(["train", *model, option, str(run_dir), "--out", str(tmp_path / "unused")])
    assert not (tmp_path / "unused").exists()  # refused before anything was written


@pytest.mark.once
def test_an_abbreviated_option_is_given_where_it_names_that_option_alone():
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
def test_tensorflows_start_up_lines_are_left_off_stderr_and_the_rest_kept(capfd):
    with cli._stderr_without(cli.TENSORFLOW_START_UP):
        os.write(
            2,
            b"WARNING: All log messages before absl::InitializeLog() is called are written to "
            b"STDERR\nI0000 00:00:1796581352.131675    4359 cudart_stub.cc:31] Could not find "
            b"cuda drivers on your machine, GPU will not be used.\nE0000 00:00:1796581527.108169"
            b"    5789 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed "
            b"call to cuInit: UNKNOWN ERROR (303)\na line of the run's own\n",
        )
    os.write(2, b"after the block\n")  # stderr is itself again
    assert capfd.readouterr().err == "a line of the run's own\nafter the block\n"


@pytest.mark.once
def test_tensorflow_logs_errors_only_unless_the_user_set_its_level(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    cli._start_backend_quietly()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


@pytest.mark.once
def test_the_log_level_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    cli._start_backend_quietly()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


STACKGAN_TINY = [
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


@pytest.mark.once
def test_stackgan_two_stages_from_the_command_line(tmp_path):
    stage1_dir, stage2_dir = tmp_path / "s1", tmp_path / "s2"
    assert (
        cli.main(
            [
                "train",
                *STACKGAN_TINY,
                "--stage",
                "1",
                "--image-size",
                "32",
                "--out",
                str(stage1_dir),
            ]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "train",
                *STACKGAN_TINY,
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


@pytest.mark.once
def test_stackgan_stage_2_needs_its_stage_1(tmp_path):
    with pytest.raises(SystemExit, match="--stage1"):
        cli.main(["train", *STACKGAN_TINY, "--stage", "2", "--out", str(tmp_path / "s3")])


SMALL = ["--data", "shapes", "--num-images", "64", "--batch-size", "32", "--epochs", "1"]


@pytest.fixture(scope="module")
def damsm_dir(tmp_path_factory):
    """A DAMSM trained for an epoch at 32 px, its R-precision measured on 100 shapes."""
    out = tmp_path_factory.mktemp("damsm")
    assert (
        cli.main(
            [
                "train",
                "--model",
                "damsm",
                "--image-size",
                "32",
                *SMALL,
                "--eval-samples",
                "100",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def attngan_dir(damsm_dir, tmp_path_factory):
    """A small AttnGAN trained for an epoch on that DAMSM."""
    out = tmp_path_factory.mktemp("attngan")
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
                *SMALL,
                "--eval-samples",
                "24",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


@pytest.mark.once
def test_a_damsm_trains_and_measures_its_r_precision(damsm_dir):
    r_precision = json.loads((damsm_dir / "metrics.json").read_text())["r_precision"]
    assert 0.0 <= r_precision["mean"] <= 1.0 and r_precision["num_samples"] == 100


@pytest.mark.once
def test_attngan_needs_a_damsm(tmp_path):
    with pytest.raises(SystemExit, match="--damsm"):
        cli.main(["train", "--model", "attngan", *SMALL, "--out", str(tmp_path / "nodamsm")])


@pytest.mark.once
def test_a_damsm_takes_no_gan_options(tmp_path):
    with pytest.raises(SystemExit, match="--preset and --set are GAN options"):
        cli.main(
            [
                "train",
                "--model",
                "damsm",
                "--preset",
                "small",
                *SMALL,
                "--out",
                str(tmp_path / "d2"),
            ]
        )


@pytest.mark.once
def test_attngan_draws_its_attention_maps_as_it_trains(attngan_dir):
    assert (attngan_dir / "attention" / "attention_epoch_001.png").exists() and (
        attngan_dir / "samples.png"
    ).exists()


@pytest.mark.once
def test_generate_draws_an_attngans_attention_maps(attngan_dir, tmp_path):
    assert (
        cli.main(
            [
                "generate",
                "--checkpoint",
                str(attngan_dir),
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


@pytest.mark.once
@pytest.mark.parametrize("model", ["dcgan-cls", "stackgan"])
def test_a_gan_reads_captions_with_a_damsms_frozen_text_encoder(damsm_dir, tmp_path, model, capsys):
    import keras

    out = tmp_path / model
    # DCGAN-cls with the DAMSM's loss in G's too
    dcgan = [*TINY, "--epochs", "1", "--set", "damsm_weight=1"]
    options = dcgan if model == "dcgan-cls" else STACKGAN_TINY  # Stage-I
    assert cli.main(["train", *options, "--damsm", str(damsm_dir), "--out", str(out)]) == 0
    damsm = keras.saving.load_model(damsm_dir / "model.keras")
    model = keras.saving.load_model(out / "model.keras")
    assert not model.text_encoder.trainable and model.max_length == damsm.max_length
    if isinstance(model, DCGANCLS):
        assert model.damsm_weight == 1 and "w_loss" in json.loads((out / "losses.json").read_text())
    for ours, theirs in zip(model.text_encoder.weights, damsm.text_encoder.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))  # frozen: unchanged
    # what the DAMSM fixes cannot be set beside it
    again = ["train", *options, "--damsm", str(damsm_dir), "--set", "max_length=10"]
    assert cli.main([*again, "--out", str(tmp_path / "set")]) == 2
    assert "max_length from its DAMSM" in capsys.readouterr().err


@pytest.mark.once
def test_a_damsm_draws_no_images_to_generate(damsm_dir):
    with pytest.raises(SystemExit, match="draws no images"):
        cli.main(["generate", "--checkpoint", str(damsm_dir), "a red circle"])


@pytest.mark.once
def test_a_damsm_draws_no_images_to_evaluate(damsm_dir):
    with pytest.raises(SystemExit, match="holds a DAMSM, which draws no images to evaluate"):
        cli.main(["evaluate", "--checkpoint", str(damsm_dir)])


@pytest.mark.once
def test_evaluate_measures_an_attngans_r_precision_with_its_own_damsm(attngan_dir, tmp_path):
    report = tmp_path / "report.json"
    assert (
        cli.main(
            [
                "evaluate",
                "--checkpoint",
                str(attngan_dir),
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


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """Eight captioned images of random pixels in a folder, and a run trained on them that
    cached their decoded pixels: (folder, run, cache)."""
    from PIL import Image

    base = tmp_path_factory.mktemp("folder")
    root, run, cache = base / "mine", base / "run", base / "mine_32.npz"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root / f"{i}.png")
        (root / f"{i}.txt").write_text(f"a noisy picture number {i}\nsome random pixels\n")
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
    return root, run, cache


@pytest.mark.once
def test_train_on_a_folder_of_captioned_images(folder_run):
    _, run, cache = folder_run
    assert (run / "samples.png").exists() and (run / "model.keras").exists()
    assert len(np.load(cache)["images"]) == 8
    assert not (run / "quality.png").exists()  # the shapes oracle has nothing to read here


@pytest.mark.once
def test_evaluate_against_a_folder_of_images(folder_run, tmp_path):
    root, run, _ = folder_run
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


@pytest.mark.once
def test_alignment_needs_shapes(folder_run):
    root, run, _ = folder_run
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


@pytest.mark.once
def test_unknown_data_is_named(tmp_path):
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
