"""Bad model files, OS faults and command-line numbers: each gives one error that names the
problem and the fix, and none loses a checkpoint.

A catalogue, one row per case: the library's readers (`load_model`, `Checkpoint.restore`), the
command line run in-process (exit status and stderr), and faults injected while a checkpoint
is written (a kill, a failed rename, a full disk), after which the previous checkpoint must
still resume.
"""

import errno
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile

import keras
import numpy as np
import pytest

import gan_zoo
from gan_zoo import cli
from gan_zoo.callbacks import Checkpoint, QualityMonitor
from gan_zoo.utils import files
from gan_zoo.utils.files import DiskFullError, UnreadableModelError, load_model

# Module fixtures (one trained run): one worker runs the file; no outcome depends on the backend.
pytestmark = [pytest.mark.once, pytest.mark.xdist_group("bad_input_files")]

TINY = [
    "--model",
    "dcgan-cls",
    "--preset",
    "small",
    "--image-size",
    "32",
    "--num-images",
    "64",
    "--batch-size",
    "32",
    "--eval-samples",
    "24",
]
UNREADABLE = "is not a readable gan_zoo model file"


def without_quality_monitor(monkeypatch):
    """Leaves out the quality monitor's measures (seconds), which no test here is about."""
    monkeypatch.setattr(QualityMonitor, "on_epoch_end", lambda self, epoch, logs=None: None)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished one-epoch run: model.keras, checkpoints/epoch_001.keras and state.json."""
    out = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as monkeypatch:
        without_quality_monitor(monkeypatch)
        assert cli.main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def model_file(run):
    return run / "model.keras"


@pytest.fixture(scope="module")
def checkpointed(run):
    """The model in the run's checkpoint (tests that restore into it or save it leave its
    weights as they are)."""
    return load_model(run / "checkpoints" / "epoch_001.keras")


@pytest.fixture(scope="module")
def nan_file(model_file, tmp_path_factory):
    """The run's model with one weight NaN, saved past the zoo's refusal to save such a one."""
    model = load_model(model_file)
    weight = model.generator.weights[0]
    values = keras.ops.convert_to_numpy(weight.value).copy()
    values.flat[0] = np.nan
    weight.assign(values)
    path = tmp_path_factory.mktemp("nan") / "nan.keras"
    keras.Model.save(model, path)
    return path


def copy_run(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    return copy


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rezipped(source, target, config=None, drop=()):
    """`source`'s archive as `target`, its config.json changed by `config` (a function of the
    parsed JSON) and the members in `drop` left out."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "config.json" and config:
                data = json.dumps(config(json.loads(data)))
            if item.filename not in drop:
                new.writestr(item, data)
    return target


def corrupted(source, target):
    """`source` with 64 bytes in its middle flipped: a whole zip whose checksum fails."""
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    target.write_bytes(bytes(data))
    return target


def unknown_class(config):
    return dict(config, class_name="NoSuchGAN", registered_name="elsewhere>NoSuchGAN")


def written(path, data):
    """`path`, holding `data` (bytes)."""
    path.write_bytes(data)
    return path


def folder(path):
    path.mkdir()
    return path


# How each bad file is made from a real one: (source model file, folder) -> its path.
BAD_FILES = {
    "missing": lambda source, d: d / "missing.keras",
    "empty": lambda source, d: written(d / "empty.keras", b""),
    "text": lambda source, d: written(d / "text.keras", b"a red circle"),
    "truncated": lambda source, d: written(d / "cut.keras", source.read_bytes()[:100_000]),
    "corrupted": lambda source, d: corrupted(source, d / "crc.keras"),
    "no config": lambda source, d: rezipped(source, d / "bare.keras", drop=("config.json",)),
    "bad config": lambda source, d: rezipped(source, d / "odd.keras", config=lambda c: [c]),
    "unknown class": lambda source, d: rezipped(source, d / "other.keras", config=unknown_class),
    "a folder": lambda source, d: folder(d / "folder.keras"),
}


@pytest.mark.parametrize(
    "case, error, message",
    [
        ("missing", FileNotFoundError, r"No model file at .*missing\.keras"),
        ("empty", UnreadableModelError, r"empty\.keras " + UNREADABLE + r" \(the file is empty\)"),
        ("text", UnreadableModelError, r"text\.keras " + UNREADABLE + r" \(not a zip archive\)"),
        (
            "truncated",
            UnreadableModelError,
            r"cut\.keras .*\(a zip archive cut short at 100,000 bytes\)",
        ),
        (
            "corrupted",
            UnreadableModelError,
            r"crc\.keras .*\(model\.weights\.h5 in it is corrupted: its checksum does not match\)",
        ),
        ("no config", UnreadableModelError, r"bare\.keras .*without the config\.json"),
        ("bad config", UnreadableModelError, r"odd\.keras " + UNREADABLE + r" \(.+\)"),
        ("unknown class", UnreadableModelError, r"other\.keras .*NoSuchGAN"),
        ("a folder", UnreadableModelError, r"folder\.keras .*\(a folder, not a file\)"),
    ],
)
def test_load_model_names_the_bad_file_and_what_is_wrong(
    model_file, tmp_path, case, error, message
):
    path = BAD_FILES[case](model_file, tmp_path)
    with pytest.raises(error, match=message) as raised:
        load_model(path)
    if error is UnreadableModelError:  # and says what to do: one error, a ValueError
        assert "copy or save it again, or use another checkpoint" in str(raised.value)
        assert isinstance(raised.value, ValueError)


# How each bad checkpoint folder is made from the run's, in place: (run, folder) -> anything.
BAD_CHECKPOINTS = {
    "corrupted": lambda run, d: corrupted(
        run / "checkpoints" / "epoch_001.keras", d / "epoch_001.keras"
    ),
    "truncated": lambda run, d: written(d / "epoch_001.keras", b"PK\x03\x04 cut"),
    "state not JSON": lambda run, d: (d / "state.json").write_text('{"epoch": 1, "checkp'),
    "state of no checkpoint": lambda run, d: (d / "state.json").write_text("[1]"),
    "checkpoint missing": lambda run, d: (d / "epoch_001.keras").unlink(),
    "another model's": lambda run, d: None,  # restored into a narrower model
}


@pytest.mark.parametrize(
    "case, error, message",
    [
        ("corrupted", UnreadableModelError, r"epoch_001\.keras .*corrupted"),
        ("truncated", UnreadableModelError, r"epoch_001\.keras .*zip archive cut short at 8 "),
        ("state not JSON", ValueError, r"state\.json is not a readable checkpoint state \(not"),
        ("state of no checkpoint", ValueError, r"state\.json .*names no checkpoint and epoch"),
        ("checkpoint missing", FileNotFoundError, r"state\.json names .*epoch_001\.keras, which"),
        ("another model's", UnreadableModelError, r"epoch_001\.keras " + UNREADABLE + r" \(.+\)"),
    ],
)
def test_a_bad_checkpoint_is_named_when_training_resumes(
    run, checkpointed, tmp_path, case, error, message
):
    directory = shutil.copytree(run / "checkpoints", tmp_path / "checkpoints")
    BAD_CHECKPOINTS[case](run, directory)
    model = checkpointed  # refused before any weight is read into it
    if case == "another model's":  # ngf 8, not the small preset's 32
        model = gan_zoo.DCGANCLS.from_preset(
            "small", vocabulary=model.vocabulary, image_size=32, ngf=8
        )
    with pytest.raises(error, match=message):
        Checkpoint(directory).restore(model)


def cli_result(argv, capsys):
    """(exit status, stderr) of `gan-zoo ARGV` run in-process, as the console script ends: a
    SystemExit's message printed to stderr with status 1."""
    try:
        status = cli.main(argv)
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
        if not isinstance(exit.code, int):
            print(exit.code, file=sys.stderr)
    return status, capsys.readouterr().err


def read_only_folder(tmp_path, monkeypatch):
    """A folder no file can be created in (as root, where permissions do not stop writes,
    creating a file there fails as it would for a user)."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    real = tempfile.TemporaryFile

    def temporary_file(*args, dir=None, **kwargs):
        if dir is not None and os.path.samefile(dir, folder):
            raise PermissionError(errno.EACCES, "Permission denied", str(folder))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", temporary_file)
    return folder


def a_file(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    return tmp_path / "a_file"


def bad_run(run, tmp_path, bad):
    """A copy of the run with one of BAD_CHECKPOINTS; its folder."""
    copy = copy_run(run, tmp_path)
    BAD_CHECKPOINTS[bad](run, copy / "checkpoints")
    return copy


def disk_full_for_the_grid(model_file, tmp_path, monkeypatch):
    """generate's argv, the disk full when its PNG is written."""
    png = tmp_path / "grid.png"

    def full_disk_open(path, mode="r", *args, **kwargs):
        if str(path).startswith(str(png)) and "w" in mode:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(files, "open", full_disk_open, raising=False)
    return ["generate", "--checkpoint", str(model_file), "a", "--out", str(png)]


# argv as a function of (run, model file, NaN file, tmp_path, monkeypatch).
CLI_CASES = [
    (
        "generate: corrupted file",
        lambda r, m, n, t, mp: [
            "generate",
            "--checkpoint",
            str(corrupted(m, t / "crc.keras")),
            "a",
        ],
        2,
        r"^gan-zoo: error: .*crc\.keras "
        + UNREADABLE
        + r" \(model\.weights\.h5 in it is corrupted",
    ),
    (
        "generate: empty file",
        lambda r, m, n, t, mp: ["generate", "--checkpoint", str(BAD_FILES["empty"](m, t)), "a"],
        2,
        r"empty\.keras " + UNREADABLE + r" \(the file is empty\)",
    ),
    (
        "evaluate: truncated file",
        lambda r, m, n, t, mp: ["evaluate", "--checkpoint", str(BAD_FILES["truncated"](m, t))],
        2,
        r"cut\.keras " + UNREADABLE + r" \(a zip archive cut short",
    ),
    (
        "generate: run folder whose model.keras is corrupted",
        lambda r, m, n, t, mp: [
            "generate",
            "--checkpoint",
            str(corrupted(m, copy_run(r, t) / "model.keras").parent),
            "a",
        ],
        2,
        r"copy/model\.keras " + UNREADABLE,
    ),
    (
        "generate: NaN weights",
        lambda r, m, n, t, mp: ["generate", "--checkpoint", str(n), "a", "--out", str(t / "o.png")],
        2,
        r"Cannot draw images: this DCGANCLS loaded from .*nan\.keras holds 1 non-finite",
    ),
    (
        "evaluate: NaN weights",
        lambda r, m, n, t, mp: ["evaluate", "--checkpoint", str(n)],
        2,
        r"Cannot evaluate it: .*nan\.keras .*earlier checkpoint",
    ),
    (
        "train --resume: corrupted checkpoint",
        lambda r, m, n, t, mp: [
            "train",
            *TINY,
            "--resume",
            "--out",
            str(bad_run(r, t, "corrupted")),
        ],
        2,
        r"checkpoints/epoch_001\.keras " + UNREADABLE + r" \(model\.weights\.h5",
    ),
    (
        "train --resume: state.json cut short",
        lambda r, m, n, t, mp: [
            "train",
            *TINY,
            "--resume",
            "--out",
            str(bad_run(r, t, "state not JSON")),
        ],
        2,
        r"state\.json is not a readable checkpoint state \(not JSON.*\): write it again",
    ),
    (
        "generate: missing file",
        lambda r, m, n, t, mp: ["generate", "--checkpoint", str(t / "gone.keras"), "a"],
        1,
        r"No checkpoint at .*gone\.keras",
    ),
    (
        "generate: disk full writing the grid",
        lambda r, m, n, t, mp: disk_full_for_the_grid(m, t, mp),
        2,
        r"^gan-zoo: error: The disk is full: .*grid\.png was not written \([\d.,]+ MB free in ",
    ),
    (
        "train --batch-size 0",
        lambda r, m, n, t, mp: ["train", "--batch-size", "0", "--out", str(t / "x")],
        2,
        r"argument --batch-size: takes a whole number above 0; got '0'",
    ),
    (
        "train --epochs -1",
        lambda r, m, n, t, mp: ["train", "--epochs=-1"],
        2,
        r"argument --epochs: takes a whole number above 0; got '-1'",
    ),
    (
        "train --num-images 1.5",
        lambda r, m, n, t, mp: ["train", "--num-images", "1.5"],
        2,
        r"argument --num-images: takes a whole number above 0; got '1.5'",
    ),
    (
        "sweep --monitor-every 0",
        lambda r, m, n, t, mp: ["sweep", "--grid", "ngf=8", "--monitor-every", "0"],
        2,
        r"argument --monitor-every: takes a whole number above 0",
    ),
    (
        "generate --num 0",
        lambda r, m, n, t, mp: ["generate", "--checkpoint", str(m), "a", "--num", "0"],
        2,
        r"argument --num: takes a whole number above 0; got '0'",
    ),
    (
        "evaluate --num-samples many",
        lambda r, m, n, t, mp: ["evaluate", "--checkpoint", str(m), "--num-samples", "many"],
        2,
        r"argument --num-samples: takes a whole number above 0; got 'many'",
    ),
    (
        "generate --seed -1",
        lambda r, m, n, t, mp: ["generate", "--checkpoint", str(m), "a", "--seed=-1"],
        2,
        r"argument --seed: takes a whole number from 0 to 2\*\*32 - 1; got '-1'",
    ),
    (
        "generate --truncation nan",
        lambda r, m, n, t, mp: ["generate", "--checkpoint", str(m), "a", "--truncation", "nan"],
        2,
        r"argument --truncation: takes a number above 0; got 'nan'",
    ),
    (
        "train --out under a file",
        lambda r, m, n, t, mp: ["train", *TINY, "--out", str(a_file(t) / "run")],
        1,
        r"--out .*a_file/run cannot be written: .*a_file is a file, not a folder\.$",
    ),
    (
        "evaluate --out in a read-only folder, before the model is read",
        lambda r, m, n, t, mp: [
            "evaluate",
            "--checkpoint",
            str(t / "not_read.keras"),
            "--out",
            str(read_only_folder(t, mp) / "report.json"),
        ],
        1,
        r"--out .*read_only/report\.json cannot be written: Permission denied in .*read_only\.",
    ),
    (
        "generate --out a folder",
        lambda r, m, n, t, mp: ["generate", "--checkpoint", str(m), "a", "--out", str(t)],
        1,
        r"--out .* is a folder: give the path of the file to write",
    ),
    (
        "generate --attention under a file",
        lambda r, m, n, t, mp: [
            "generate",
            "--checkpoint",
            str(m),
            "a",
            "--out",
            str(t / "o.png"),
            "--attention",
            str(a_file(t) / "maps.png"),
        ],
        1,
        r"--attention .*a_file/maps\.png cannot be written: .*a_file is a file, not",
    ),
    (
        "convert --out under a file",
        lambda r, m, n, t, mp: [
            "convert",
            "stackgan",
            "g.pth",
            "--out",
            str(a_file(t) / "s.keras"),
        ],
        1,
        r"--out .*a_file/s\.keras cannot be written",
    ),
]


@pytest.mark.parametrize(
    "make_argv, status, message", [case[1:] for case in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_the_command_line_names_the_problem_and_the_fix(
    run, model_file, nan_file, tmp_path, monkeypatch, capsys, make_argv, status, message
):
    argv = make_argv(run, model_file, nan_file, tmp_path, monkeypatch)
    capsys.readouterr()  # what making the case printed
    got, stderr = cli_result(argv, capsys)
    assert got == status, stderr
    assert re.search(message, stderr, re.MULTILINE), stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "o.png").exists()  # refused before any image was drawn


SAVE = gan_zoo.DCGANCLS.save


def killed_in_save(model, path):
    """model.save killed half way through: half a file on disk, then KeyboardInterrupt."""
    SAVE(model, path)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    raise KeyboardInterrupt


def disk_full_in_save(model, path):
    with open(path, "wb") as f:
        f.write(b"PK\x03\x04 the first bytes")
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def failed_rename(source, target):
    raise OSError(errno.EIO, "Input/output error", source)


def disk_full_at_state(path, mode="r", *args, **kwargs):
    if "state.json" in str(path) and "w" in mode:
        raise OSError(errno.ENOSPC, "No space left on device", path)
    return open(path, mode, *args, **kwargs)


# (case, where the fault is injected: (object, attribute, fake), what is raised, message).
FAULTS = [
    ("killed in model.save", (gan_zoo.DCGANCLS, "save", killed_in_save), KeyboardInterrupt, ""),
    ("rename fails", (os, "replace", failed_rename), OSError, "Input/output error"),
    (
        "disk full in model.save",
        (gan_zoo.DCGANCLS, "save", disk_full_in_save),
        DiskFullError,
        r"^The disk is full: .*checkpoints/epoch_002\.keras was not written \(it needs about "
        r"(?P<needed>[\d.,]+) MB; [\d.,]+ MB free in .*checkpoints\)\. What was there before "
        r"is kept as it was: free some space there \(or write elsewhere\) and run again\.$",
    ),
    (
        "disk full at state.json",
        (files, "open", disk_full_at_state),
        DiskFullError,
        r"^The disk is full: .*checkpoints/state\.json was not written \([\d.,]+ MB free in ",
    ),
]


@pytest.mark.parametrize(
    "where, error, message", [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS]
)
def test_a_fault_while_a_checkpoint_is_written_loses_nothing(
    run, checkpointed, tmp_path, monkeypatch, where, error, message
):
    directory = shutil.copytree(run / "checkpoints", tmp_path / "checkpoints")
    before = {name: digest(directory / name) for name in ("epoch_001.keras", "state.json")}
    checkpoint = Checkpoint(directory)
    checkpoint.set_model(checkpointed)
    monkeypatch.setattr(*where, raising=False)
    with pytest.raises(error, match=message) as raised:
        checkpoint.on_epoch_end(1, logs={"d_loss": 1.0})
    monkeypatch.undo()
    if "needed" in message:  # the size of the previous checkpoint, the space this one needs
        needed = float(re.search(message, str(raised.value))["needed"].replace(",", ""))
        assert needed == pytest.approx(os.path.getsize(directory / "epoch_001.keras") / 1e6, 0.01)
    assert {name: digest(directory / name) for name in before} == before
    assert not [name for name in os.listdir(directory) if "partial" in name or ".tmp" in name]
    resumed = load_model(run / "model.keras")
    assert Checkpoint(directory).restore(resumed) == 1
    for saved, restored in zip(checkpointed.weights, resumed.weights):
        np.testing.assert_array_equal(*map(keras.ops.convert_to_numpy, (saved, restored)))


def test_a_full_disk_while_training_stops_the_run_with_the_previous_checkpoint_kept(
    run, tmp_path, monkeypatch, capsys
):
    copy = copy_run(run, tmp_path)
    before = {p: digest(copy / p) for p in ("checkpoints/epoch_001.keras", "model.keras")}
    monkeypatch.setattr(gan_zoo.DCGANCLS, "save", disk_full_in_save)
    without_quality_monitor(monkeypatch)
    status, stderr = cli_result(
        ["train", *TINY, "--epochs", "2", "--resume", "--out", str(copy)], capsys
    )
    assert status == 2, stderr
    assert re.search(
        r"gan-zoo: error: The disk is full: .*epoch_002\.keras was not written \(it needs "
        r"about [\d.]+ MB",
        stderr,
    )
    assert {p: digest(copy / p) for p in before} == before
    assert json.loads((copy / "checkpoints" / "state.json").read_text())["epoch"] == 1
    assert sorted(os.listdir(copy / "checkpoints")) == ["epoch_001.keras", "state.json"]


def test_a_run_that_diverges_stops_with_its_last_finite_checkpoint_and_no_model_keras(
    run, tmp_path, capsys
):
    """A learning rate of 1e30 from epoch 2 on (in the checkpoint's config, which a resumed run
    rebuilds its model from): the run stops, names the divergence, and saves nothing of it."""
    copy = copy_run(run, tmp_path)
    os.remove(copy / "model.keras")  # as if the first run had been killed before writing it
    checkpoint = copy / "checkpoints" / "epoch_001.keras"
    rezipped(
        run / "checkpoints" / "epoch_001.keras",
        checkpoint,
        config=lambda c: {**c, "config": {**c["config"], "learning_rate": 1e30}},
    )
    before = digest(checkpoint)
    status, stderr = cli_result(
        ["train", *TINY, "--epochs", "2", "--resume", "--out", str(copy)], capsys
    )
    assert status == 2, stderr
    assert re.search(r"gan-zoo: error: Training diverged .*epoch 2", stderr), stderr
    assert "Traceback" not in stderr
    assert not (copy / "model.keras").exists()
    assert digest(checkpoint) == before
    assert json.loads((copy / "checkpoints" / "state.json").read_text())["epoch"] == 1
    assert sorted(os.listdir(copy / "checkpoints")) == ["epoch_001.keras", "state.json"]


def test_other_os_errors_are_not_taken_for_the_users_and_keep_their_traceback(monkeypatch):
    def failing(args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(cli, "_generate", failing)
    with pytest.raises(OSError, match="Input/output error"):
        cli.main(["generate", "--checkpoint", "x.keras", "a"])
