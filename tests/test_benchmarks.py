"""benchmarks/run.py keeps working: a tiny run on the current backend prints its JSON line
and table. (Speed is measured there, never asserted here.)"""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "run.py")


@pytest.mark.parametrize("model", ["dcgan-cls", "attngan"])
def test_benchmark_prints_a_json_line_and_a_table(model):
    result = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--model",
            model,
            "--preset",
            "small",
            "--size",
            "32",
            "--batch",
            "4",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--generate-batch",
            "4",
            "--backend",
            keras.backend.backend(),
            "--input",
            "both" if model == "dcgan-cls" else "resident",  # the input pipeline once
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    row = json.loads(lines[0])
    assert row["model"] == model and row["backend"] == keras.backend.backend()
    assert row["batch"] == 4 and row["resolution"] == 32 and row["device"]
    assert row["train_img_s"] > 0 and row["generate_img_s"] > 0 and row["step_ms_median"] > 0
    assert row["host_peak_mb"] > 0
    if keras.backend.backend() != "torch":  # tracing and compiling, beyond the warm-up step itself
        assert row["compile_s"] > 0
    assert row["input"] == "resident" and "input_wait_pct" not in row
    if model == "dcgan-cls":
        fed = json.loads(lines[1])  # the same run fed through make_dataset
        assert fed["input"] == "pipeline" and fed["step_ms_median"] > 0
        assert "input_wait_pct" in fed
    if keras.backend.backend() == "jax":  # XLA's cost analysis: FLOPs and the MFU they imply
        assert row["gflops_per_step"] > 0 and 0 < row["mfu_pct"] < 100
    runs = 2 if model == "dcgan-cls" else 1  # JSON lines before the table
    assert lines[runs].startswith("| model |") and model in lines[-1]


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the profiler trace is JAX's")
def test_fused_steps_and_a_profile_of_the_slowest_operations(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--model",
            "stackgan1",
            "--preset",
            "small",
            "--size",
            "32",
            "--batch",
            "4",
            "--steps",
            "2",
            "--warmup",
            "2",
            "--steps-per-execution",
            "2",
            "--generate-batch",
            "4",
            "--backend",
            "jax",
            "--trace",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    row = json.loads(result.stdout.strip().splitlines()[0])
    assert row["steps_per_execution"] == 2 and row["step_ms_median"] > 0
    slowest = row["slowest_operations"]
    assert 0 < len(slowest) <= 8 and all(ms > 0 and 0 < share <= 1 for _, ms, share in slowest)
    assert [ms for _, ms, _ in slowest] == sorted((ms for _, ms, _ in slowest), reverse=True)
    assert not any("::" in name for name, _, _ in slowest)  # operations, not runtime frames


@pytest.mark.once
@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--warmup", "0"], "compilation, kept out of the timed steps"),
        (["--batch", "-2"], "--batch must be at least 1"),
        (["--steps-per-execution", "0"], "--steps-per-execution must be at least 1"),
        (["--quick", "--batch", "8"], "--quick and --all run their own configurations"),
        (
            ["--backend", "torch", "--steps-per-execution", "2", "--steps", "4", "--warmup", "2"],
            "PyTorch eagerly",
        ),
        (
            ["--backend", "jax", "--steps", "5", "--steps-per-execution", "2"],
            "multiples of --steps-per-execution",
        ),
        (["--backends", "tensorflow,theano"], "unknown backend 'theano'"),
        (["--backends", "jax,jax"], "two or more different backends"),
        (["--backends", "tensorflow,jax", "--repeats", "0"], "--repeats must be at least 1"),
    ],
)
def test_arguments_that_cannot_give_a_fair_measurement_are_refused(arguments, message, capsys):
    with pytest.raises(SystemExit):
        load_script().parse_args(arguments)
    assert message in capsys.readouterr().err


def load_script():
    spec = importlib.util.spec_from_file_location("benchmark_run", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.mark.cross_backend
def test_side_by_side_runs_each_backend_in_its_own_process_and_gives_ratios():
    arguments = ["--model", "dcgan-cls", "--preset", "small", "--size", "32", "--batch", "4"]
    arguments += ["--steps", "2", "--warmup", "1", "--generate-batch", "4"]
    result = subprocess.run(
        [sys.executable, SCRIPT, *arguments, "--backends", "tensorflow,jax", "--backend", "torch"],
        capture_output=True,
        text=True,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [row["backend"] for row in rows] == ["tensorflow", "jax"]  # --backend gives way
    assert all(row["batch"] == 4 and row["resolution"] == 32 for row in rows)
    table = result.stdout.strip().splitlines()
    assert table[-3].startswith("| model | preset |") and "jax / tensorflow" in table[-3]
    ratio = rows[1]["train_img_s"] / rows[0]["train_img_s"]
    assert table[-1].endswith(f"| {ratio:.2f}x |")


@pytest.mark.once
def test_the_side_by_side_table_takes_each_backends_median_over_its_turns():
    row = {"model": "dcgan-cls", "preset": "small", "batch": 4, "resolution": 32}
    row["precision"] = "float32"
    speeds = {"tensorflow": [10.0, 30.0, 20.0], "jax": [5.0, 40.0, 30.0]}
    rows = [{**row, "backend": b, "train_img_s": v} for b, vs in speeds.items() for v in vs]
    table = load_script().side_by_side_markdown(rows, ["tensorflow", "jax"])
    assert (
        table.splitlines()[-1] == "| dcgan-cls | small | 4 | 32 | float32 | 20.0 | 30.0 | 1.50x |"
    )
