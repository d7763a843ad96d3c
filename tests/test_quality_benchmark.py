"""benchmarks/quality.py keeps working: its quick mode trains a recipe over two seeds and
writes the table, the per-seed curves and the figure. (The measurements themselves are in
benchmarks/QUALITY.md; nothing here asserts a quality.)"""

import importlib.util
import json
import os

import keras
import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "quality.py")


def load_script():
    spec = importlib.util.spec_from_file_location("quality_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.once  # it runs gan-zoo sweep, which test_sweep and test_cli cover per backend
def test_quick_mode_writes_a_row_per_recipe_with_every_seeds_curve(tmp_path, capsys):
    quality = load_script()
    args = ["--quick", "--recipes", "stable", "--ablations", "hinge loss"]
    args += ["--out", str(tmp_path / "runs"), "--report-dir", str(tmp_path)]
    assert quality.main(args) == 0
    report = json.loads((tmp_path / "quality.json").read_text())
    ablation = "dcgan-cls hinge loss (1 seed)"
    assert list(report["rows"]) == ["dcgan-cls stable", ablation]
    for name, row in report["rows"].items():
        seeds = 1 if name == ablation else 2  # an ablation runs the first seed only
        assert row["seeds"] == seeds
        assert len(report["curves"][name]) == seeds
        assert all(len(curve) == 2 for curve in report["curves"][name])  # one value an epoch
        assert row["last"]["worst"] <= row["last"]["mean"]
        falls = [max(curve) - curve[-1] for curve in report["curves"][name]]
        assert row["fall_from_best"]["worst"] == pytest.approx(max(falls))
        assert 0 <= row["coverage"]["mean"] <= 1 and row["minutes"]["mean"] > 0
        assert all(0 <= row[attribute]["worst"] <= 1 for attribute in ("shape", "colour"))
    table = (tmp_path / "QUALITY.md").read_text()
    assert "| dcgan-cls | stable | 2 |" in table
    assert "| dcgan-cls | hinge loss (1 seed) | 1 |" in table
    assert (tmp_path / "quality.png").stat().st_size > 0
    # the ablation is the paper recipe with its one remedy
    run = tmp_path / "runs" / "dcgan_cls_hinge_loss__1_seed__gan" / "recipe=paper" / "seed_0"
    model = keras.saving.load_model(run / "model.keras")
    assert model.remedies.adversarial_loss == "hinge" and not model.remedies.projection
    # the runs resume: a second call trains nothing and reports the same numbers
    capsys.readouterr()
    assert quality.main(args) == 0
    assert json.loads((tmp_path / "quality.json").read_text())["rows"] == report["rows"]
    assert capsys.readouterr().out.count("finished earlier") == 3


def test_unknown_ablations_are_named_with_the_choices(capsys):
    with pytest.raises(SystemExit):
        load_script().parse_args(["--ablations", "hinge loss,dropout"])
    error = capsys.readouterr().err
    assert "unknown ablations ['dropout']" in error and "spectral norm" in error


def test_unknown_recipes_are_named(tmp_path):
    with pytest.raises(SystemExit, match="Unknown dcgan-cls recipe 'steady'"):
        load_script().main(["--quick", "--recipes", "steady", "--out", str(tmp_path)])


def test_the_largest_drop_counts_only_the_second_half():
    quality = load_script()
    curve = [0.0, 0.5, 0.1, 0.6, 0.7, 0.4, 0.5, 0.45]  # 2nd half 0.7, 0.4, 0.5, 0.45
    assert quality.largest_drop(curve) == pytest.approx(0.3)
    assert quality.largest_drop([0.1, 0.2, 0.3, 0.4]) == 0.0


def test_the_fall_from_best_sees_a_slide_of_small_steps():
    quality = load_script()
    slide = [0.2, 0.5, 0.7, 0.75, 0.68, 0.61, 0.53, 0.45, 0.37]  # no step below -0.08
    assert quality.largest_drop(slide) == pytest.approx(0.08)
    assert quality.fall_from_best(slide) == pytest.approx(0.38)
    assert quality.fall_from_best([0.1, 0.3, 0.3]) == 0.0


def test_rows_measured_earlier_at_the_same_run_length_are_kept(tmp_path, capsys):
    quality = load_script()
    earlier = {"rows": {"dcgan-cls paper": {"seeds": 3}, "dcgan-cls stable": {"seeds": 3}}}
    earlier["curves"] = {"dcgan-cls paper": [[0.1, 0.2]], "dcgan-cls stable": [[0.3, 0.4]]}
    args = quality.parse_args(["--recipes", "stable", "--report-dir", str(tmp_path)])
    earlier["args"] = vars(args)
    (tmp_path / "quality.json").write_text(json.dumps(earlier))
    plan = {"dcgan-cls stable": ()}  # measured again now: its old row is not kept
    rows, curves = quality.earlier_rows(args, plan)
    assert list(rows) == ["dcgan-cls paper"] and curves["dcgan-cls paper"] == [[0.1, 0.2]]
    args.epochs += 1  # another run length: nothing is kept, and it says why
    assert quality.earlier_rows(args, plan) == ({}, {})
    assert "another run length" in capsys.readouterr().out


@pytest.mark.once  # gan-zoo sweep again; what is new here is the grid and the report
def test_sensitivity_mode_runs_each_setting_for_the_same_steps_and_writes_the_band(tmp_path):
    quality = load_script()
    args = ["--quick", "--sensitivity", "--recipes", "paper", "--out", str(tmp_path / "runs")]
    assert quality.main(args + ["--report-dir", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "sensitivity.json").read_text())["results"]
    assert list(results["paper"]) == ["lr x0.25, batch 32", "lr x4, batch 32"]
    assert all(len(finals) == 1 and 0 <= finals[0] <= 1 for finals in results["paper"].values())
    runs = sorted((tmp_path / "runs").glob("sensitivity_paper_lr_x*/recipe=paper/seed_0"))
    rates = sorted(keras.models.load_model(run / "model.keras").learning_rate for run in runs)
    assert rates == pytest.approx([2e-4 * 0.25, 2e-4 * 4])  # the paper's 2e-4, scaled
    for run in runs:  # 2 epochs of 2 steps at batch 64 are 1 epoch of 4 steps at batch 32
        options = json.loads((run / "run.json").read_text())
        assert (options["batch_size"], options["epochs"]) == (32, 1)
    assert "| paper |" in (tmp_path / "SENSITIVITY.md").read_text()
    assert (tmp_path / "sensitivity.png").stat().st_size > 0


@pytest.mark.once
def test_stackgan_attngan_and_dfgan_rows_train_every_phase_of_their_runs(tmp_path):
    """StackGAN's run is Stage-I at 16 px then Stage-II at 32 px over it; AttnGAN's is a DAMSM,
    then the GAN over it; DCGAN-cls+damsm and DF-GAN read with that same DAMSM (trained once).
    Each gets its row, measured on its final images."""
    quality = load_script()
    models = "stackgan,attngan,dcgan-cls+damsm,dfgan"
    args = ["--quick", "--models", models, "--recipes", "paper"]
    args += ["--seeds", "0"]
    args += ["--out", str(tmp_path / "runs"), "--report-dir", str(tmp_path)]
    assert quality.main(args) == 0
    report = json.loads((tmp_path / "quality.json").read_text())
    assert list(report["rows"]) == [f"{model} paper" for model in models.split(",")]
    runs = tmp_path / "runs"
    stage2 = keras.models.load_model(runs / "stackgan_paper_gan/recipe=paper/seed_0/model.keras")
    attngan = keras.models.load_model(runs / "attngan_paper_gan/recipe=paper/seed_0/model.keras")
    for model in (stage2, attngan):  # 16 px, then the 32 px images the oracle scores
        stages = model.generate(["a red circle"], return_stages=True)
        assert {size: images.shape[1] for size, images in stages.items()} == {16: 16, 32: 32}
    dcgan, dfgan = (
        keras.models.load_model(runs / f"{name}_paper_gan/recipe=paper/seed_0/model.keras")
        for name in ("dcgan_cls_damsm", "dfgan")
    )
    assert dfgan.generate(["a red circle"]).shape == (1, 32, 32, 3)
    damsm = keras.models.load_model(runs / "damsm/seed_0/model.keras")
    for reader in (attngan, dcgan, dfgan):  # each reads with the DAMSM, frozen
        for ours, its in zip(reader.text_encoder.weights, damsm.text_encoder.weights, strict=True):
            np.testing.assert_array_equal(ours.numpy(), its.numpy())
    assert "| stackgan | paper | 1 |" in (tmp_path / "QUALITY.md").read_text()


def test_a_resumed_run_adds_its_training_time_and_a_finished_one_adds_none(tmp_path):
    quality = load_script()
    (tmp_path / "train_minutes.json").write_text('{"minutes": 5.0}')  # its first 20 epochs
    (tmp_path / "metrics.json").write_text(json.dumps({"history": {"d_loss": [1.0] * 20}}))
    assert quality.timed(lambda command: 0, [], str(tmp_path), "the run", 20) == 5.0

    def resume(command):  # trains on to 38 epochs
        (tmp_path / "metrics.json").write_text(json.dumps({"history": {"d_loss": [1.0] * 38}}))
        return 0

    minutes = quality.timed(resume, [], str(tmp_path), "the run", 38)
    assert minutes > 5.0
    assert json.loads((tmp_path / "train_minutes.json").read_text())["minutes"] == minutes
    with pytest.raises(SystemExit, match="the run failed"):
        quality.timed(lambda command: 1, [], str(tmp_path), "the run", 40)
