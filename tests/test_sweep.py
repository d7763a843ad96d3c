"""Sweeps: grid parsing, a small sweep from the command line, its summary, and resuming it."""

import json

import keras
import numpy as np
import pytest

from gan_zoo import cli, sweep

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
    "--epochs",
    "1",
]


def test_grid_values_are_parsed_and_combined_in_order():
    grid = sweep.parse_grid(["label_smoothing=0,0.1", "learning_rate=2e-4,4e-4", "variant=plain"])
    assert grid == {
        "label_smoothing": [0, 0.1],
        "learning_rate": [2e-4, 4e-4],
        "variant": ["plain"],
    }
    combos = sweep.settings(grid)
    assert len(combos) == 4
    assert combos[1] == {"label_smoothing": 0, "learning_rate": 4e-4, "variant": "plain"}
    assert sweep.setting_name(combos[1]) == "label_smoothing=0,learning_rate=0.0004,variant=plain"
    assert sweep.parse_grid(["instance_noise=.1,1."]) == {
        "instance_noise": [0.1, 1.0]
    }  # not JSON, still numbers


@pytest.mark.parametrize(
    "items, words",
    [
        ([], "at least one --grid"),
        (["label_smoothing"], "NAME=V1,V2"),
        (["=0,1"], "NAME=V1,V2"),
        (["label_smoothing=0", "label_smoothing=0.1"], "twice"),
        (
            ["label_smoothing=0,.1,1.0"],
            r"label_smoothing must be in \[0, 1\).*got 1.0",
        ),  # before any run trains
        (["instance_noise=0,nan"], "instance_noise must be a finite number; got nan"),
        (["instance_noise=true"], "instance_noise must be a finite number; got True"),
    ],
)
def test_malformed_grids_are_named(items, words):
    with pytest.raises(ValueError, match=words):
        sweep.parse_grid(items)


def test_summary_has_mean_spread_worst_seed_and_collapsed_runs(tmp_path):
    grid = {"instance_noise": [0, 0.1]}
    finals = {0: [(0.5, 20.0, 0.35), (0.3, 30.0, 0.1)], 0.1: [(0.6, 18.0, 0.4), (0.6, 22.0, 0.3)]}
    for value, runs in finals.items():
        for seed, (alignment, fid, diversity) in enumerate(runs):
            folder = tmp_path / sweep.run_folder("", {"instance_noise": value}, seed)
            folder.mkdir(parents=True)
            history = {
                "d_loss": [1.0, 0.8],
                "g_loss": [2.0, 2.5],
                "fid": [50.0, fid],
                "alignment": [0.1, alignment - 0.05],
                "diversity": [0.5, diversity],
            }
            (folder / "metrics.json").write_text(
                json.dumps({"history": history, "alignment": {"alignment": alignment}})
            )
    rows = sweep.summarize(str(tmp_path), grid, [0, 1])
    plain, noisy = rows
    assert plain["alignment"]["mean"] == pytest.approx(0.4) and plain["alignment"][
        "std"
    ] == pytest.approx(0.1)
    assert plain["alignment"]["worst"] == 0.3 and plain["fid"]["worst"] == 30.0
    assert plain["collapsed"] == 1 and noisy["collapsed"] == 0
    assert noisy["d_loss"]["mean"] == pytest.approx(0.8) and "worst" not in noisy["d_loss"]
    table = sweep.markdown_table(rows)
    assert "| instance_noise=0 | 0.400 ± 0.100 (worst 0.300) | 25.0 ± 5.0 (worst 30.0) |" in table
    assert table.splitlines()[-1].endswith("| 0 of 2 |")
    assert sweep.is_finished(tmp_path / sweep.run_folder("", {"instance_noise": 0}, 0), 2)
    assert not sweep.is_finished(tmp_path / sweep.run_folder("", {"instance_noise": 0}, 0), 3)


def test_an_epoch_without_a_measure_is_kept_as_none_and_summaries_read_the_last_measured(
    tmp_path, shapes32
):
    from conftest import tiny_dcgan

    from gan_zoo.callbacks import Checkpoint

    checkpoint = Checkpoint(str(tmp_path / "checkpoints"))
    checkpoint.set_model(tiny_dcgan(shapes32[3]))
    for epoch, logs in enumerate(
        [
            {"d_loss": 1.0, "fid": 50.0},
            {"d_loss": 0.9},
            {"d_loss": 0.8, "fid": 40.0},
            {"d_loss": 0.7},
        ]
    ):  # a QualityMonitor measuring every other epoch
        checkpoint.on_epoch_end(epoch, logs)
    history = checkpoint.history()
    assert history == {"d_loss": [1.0, 0.9, 0.8, 0.7], "fid": [50.0, None, 40.0, None]}
    (tmp_path / "metrics.json").write_text(json.dumps({"history": history}))
    final, _ = sweep.final_measures(str(tmp_path))
    assert final == {"d_loss": 0.7, "fid": 40.0}
    from gan_zoo.utils.plots import save_sweep_curves

    save_sweep_curves({"a": [history]}, ["fid", "d_loss"], str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_the_quality_monitor_also_measures_the_last_epoch(tmp_path, shapes32):
    from conftest import tiny_dcgan

    from gan_zoo.callbacks import QualityMonitor

    images, captions, _, vocab = shapes32
    monitor = QualityMonitor(
        images, captions, str(tmp_path / "quality.png"), every=2, num_samples=64
    )
    monitor.set_model(tiny_dcgan(vocab))
    monitor.set_params({"epochs": 3})
    logs = [{} for _ in range(3)]
    for epoch in range(3):
        monitor.on_epoch_end(epoch, logs[epoch])
    assert [sorted(epoch_logs) for epoch_logs in logs] == [[], ["fid"], ["fid"]]  # epochs 2 and 3
    assert json.loads((tmp_path / "quality.json").read_text())["epoch"] == [2, 3]
    monitor.set_params({"epochs": 10})  # a run stopped early (EarlyStopping) after epoch 5
    monitor.on_train_begin()
    for epoch in range(3, 5):
        monitor.on_epoch_end(epoch, {})
    monitor.on_train_end()
    assert json.loads((tmp_path / "quality.json").read_text())["epoch"] == [2, 3, 4, 5]
    monitor.on_train_end()  # measured already: not again
    assert json.loads((tmp_path / "quality.json").read_text())["epoch"] == [2, 3, 4, 5]


@pytest.mark.once  # a sweep only orchestrates train runs, which test_cli runs on every backend
def test_sweep_from_the_command_line_trains_every_setting_and_seed_once(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = [
        "sweep",
        *TINY,
        "--grid",
        "label_smoothing=0,0.2",
        "--set",
        "instance_noise=0.05",
        "--seeds",
        "0,1",
        "--out",
        str(out),
    ]
    assert cli.main(args) == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["grid"] == {"label_smoothing": [0, 0.2]} and summary["seeds"] == [0, 1]
    assert [row["setting"] for row in summary["summary"]] == [
        {"label_smoothing": 0},
        {"label_smoothing": 0.2},
    ]
    assert all(len(row["alignment"]["values"]) == 2 for row in summary["summary"])
    assert (out / "sweep.png").stat().st_size > 0
    assert "| label_smoothing=0.2 |" in (out / "sweep.md").read_text()
    model = keras.models.load_model(out / "label_smoothing=0.2" / "seed_1" / "model.keras")
    assert (model.label_smoothing, model.instance_noise, model.seed) == (0.2, 0.05, 1)
    seeds = [
        keras.models.load_model(out / "label_smoothing=0" / f"seed_{s}" / "model.keras")
        for s in (0, 1)
    ]
    assert not np.array_equal(*(m.generate(["a red circle"], seed=0) for m in seeds))
    capsys.readouterr()
    assert cli.main(args) == 0  # a finished sweep trains nothing again
    assert capsys.readouterr().out.count("finished earlier") == 4


def test_sweep_refuses_bad_options_by_name(tmp_path):
    with pytest.raises(SystemExit, match="label_smoothing: both swept"):
        cli.main(
            [
                "sweep",
                *TINY,
                "--grid",
                "label_smoothing=0,0.2",
                "--set",
                "label_smoothing=0.1",
                "--out",
                str(tmp_path),
            ]
        )
    with pytest.raises(SystemExit, match="--seeds takes comma-separated integers"):
        cli.main(
            [
                "sweep",
                *TINY,
                "--grid",
                "label_smoothing=0,0.2",
                "--seeds",
                "0,one",
                "--out",
                str(tmp_path),
            ]
        )
    with pytest.raises(SystemExit, match="DAMSM has no adversarial game"):
        cli.main(
            [
                "sweep",
                *TINY[2:],
                "--model",
                "damsm",
                "--grid",
                "learning_rate=1e-3",
                "--out",
                str(tmp_path),
            ]
        )
