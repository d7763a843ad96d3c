"""Training and generation throughput of the zoo's models.

    python benchmarks/run.py --model dcgan-cls --preset small --size 32 --batch 16 --steps 20
    python benchmarks/run.py --quick            # small presets, every model, < 5 min on a CPU
    python benchmarks/run.py --all              # the papers' configurations

Each run trains the real `train_step` (through `fit`) on synthetic batches for `--warmup`
steps (tracing and compilation, reported as compile seconds) and then `--steps` timed steps,
and prints one JSON line: step time (median and p90 of the per-step intervals, which include
any host synchronisation), images per second over the timed steps, generation images per
second (`generate` at `--generate-batch`), peak host and device memory, and on JAX the FLOPs
of one training step from XLA's cost analysis with the MFU they imply against the nominal
peak in PEAK_FLOPS. The backend is chosen with `--backend` (set before Keras is imported).
`--input pipeline` feeds uint8 images through the real input pipeline (`make_dataset`: tf.data
wherever TensorFlow is installed, whatever the backend, else a PyDataset; random crop and
flip) instead of arrays already in memory, and `--input both` runs both and reports the share
of the step spent waiting for input. `--steps-per-execution N` hands Keras N steps per call
(`steps_per_execution`: on TensorFlow one compiled loop of N steps, on JAX N dispatches of the
compiled step with one host synchronisation; step times are the calls' intervals over N).
`--trace DIR` (JAX) records a profiler trace of the timed steps (TensorBoard's profile plugin
or Perfetto open it) and adds the operations that took the most device time to the JSON line.
A Markdown table closes the output.

`--backends tensorflow,jax,torch` (or `installed`) times the same configurations side by side:
each backend in a process of its own (a backend is fixed once Keras is imported), the backends
taking turns `--repeats` times so that a machine's drift falls on all of them, and one closing
table of each backend's median training images per second and its ratio to the first
backend's.
"""

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

# The paper configurations the authors' code was timed at (../shared/reference, §8): batch,
# image size, and the model's preset (built with `from_preset`) and other constructor options.
# DCGAN-cls and StackGAN are conditioned on 1,024-d embeddings, as the authors' models are;
# AttnGAN and DF-GAN read token ids through a frozen DAMSM (AttnGAN's with Inception-v3 with
# random weights at the paper config; DF-GAN uses its text encoder only) over the CUB
# vocabulary size.
PAPER = {
    "dcgan-cls": dict(batch=64, size=64, options=dict(preset="birds")),
    "dcgan-cls-plain": dict(batch=64, size=64, options=dict(variant="plain", ngf=64, ndf=64)),
    "stackgan1": dict(batch=64, size=64, options=dict(preset="birds")),
    "stackgan2": dict(batch=64, size=256, options=dict(preset="birds")),
    "attngan": dict(batch=20, size=256, options=dict(preset="birds")),
    "dfgan": dict(batch=32, size=256, options=dict(preset="birds")),
}
QUICK = {
    "dcgan-cls": dict(batch=16, size=32, options=dict(preset="small")),
    "stackgan1": dict(batch=16, size=32, options=dict(preset="small")),
    "stackgan2": dict(batch=16, size=64, options=dict(preset="small")),
    "attngan": dict(batch=16, size=32, options=dict(preset="small")),
    "dfgan": dict(batch=16, size=32, options=dict(preset="small")),
}
BACKENDS = ("tensorflow", "jax", "torch")  # each the name of its Python package too
CUB_WORDS = 5449  # the authors' CUB vocabulary, padding aside
# Nominal dense peak FLOP/s that MFU is measured against, by device and compute precision.
# H100/H200 SXM: 989 TFLOP/s BF16/FP16 tensor cores, 495 TF32 (what float32 matmuls use on
# them by default); the CPU figure is this project's 2-core AMD EPYC (Zen 4) machine: 2 cores x
# 3 GHz x 32 FP32 FLOP/cycle (AVX-512 on two 256-bit FMA pipes), a nominal bound, not measured.
PEAK_FLOPS = {
    "H100": {"float32": 495e12, "mixed_bfloat16": 989e12, "mixed_float16": 989e12},
    "H200": {"float32": 495e12, "mixed_bfloat16": 989e12, "mixed_float16": 989e12},
    "cpu": {"float32": 192e9, "mixed_bfloat16": 192e9, "mixed_float16": 192e9},
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(PAPER), default="dcgan-cls")
    parser.add_argument("--preset", help="birds, coco or small (default: the paper config's)")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--size", type=int, help="image size")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("KERAS_BACKEND", "tensorflow"),
    )
    parser.add_argument(
        "--precision", choices=("float32", "mixed_bfloat16", "mixed_float16"), default="float32"
    )
    parser.add_argument("--jit", choices=("on", "off", "default"), default="default")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--generate-batch", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="every model, small presets")
    parser.add_argument("--all", action="store_true", help="every model, the papers' configs")
    parser.add_argument(
        "--input",
        choices=("resident", "pipeline", "both"),
        default="resident",
        help="arrays in memory, the real make_dataset pipeline, or both compared",
    )
    parser.add_argument(
        "--steps-per-execution",
        type=int,
        default=1,
        metavar="N",
        help="N training steps per call (Keras's steps_per_execution): "
        "one host round trip per N steps",
    )
    parser.add_argument(
        "--backends",
        help="side by side: comma-separated backends, or 'installed' (see above)",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="--backends: turns each backend takes"
    )
    parser.add_argument(
        "--trace",
        metavar="DIR",
        help="JAX: profile the timed steps into DIR and report the slowest operations",
    )
    args = parser.parse_args(argv)
    for option in (
        "steps",
        "warmup",
        "steps_per_execution",
        "generate_batch",
        "batch",
        "size",
        "repeats",
    ):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            parser.error(
                f"--{option.replace('_', '-')} must be at least 1"
                + (
                    " (the warm-up holds the compilation, kept out of the timed steps)"
                    if option == "warmup"
                    else ""
                )
            )
    if (args.quick or args.all) and any(getattr(args, o) for o in ("batch", "size", "preset")):
        parser.error(
            "--quick and --all run their own configurations: drop --batch, --size and --preset"
        )
    if args.quick and args.all:
        parser.error("--quick or --all, not both")
    if args.backends:
        args.backends = side_by_side_backends(parser, args.backends)
    if args.trace and (args.backend != "jax" or args.backends):
        parser.error("--trace needs --backend jax")
    if args.steps_per_execution > 1 and args.backend == "torch":
        parser.error(
            "--steps-per-execution needs a compiled step: "
            "Keras runs PyTorch eagerly, one step per call"
        )
    if args.steps % args.steps_per_execution or args.warmup % args.steps_per_execution:
        parser.error("--steps and --warmup must be multiples of --steps-per-execution")
    return args


def side_by_side_backends(parser, given):
    """The backends `--backends` names, each checked to be installed."""
    if given == "installed":
        given = ",".join(b for b in BACKENDS if importlib.util.find_spec(b))
    backends = [b.strip() for b in given.split(",") if b.strip()]
    for backend in backends:
        if backend not in BACKENDS:
            parser.error(
                f"--backends: unknown backend {backend!r}; choose from tensorflow, jax, torch"
            )
        if importlib.util.find_spec(backend) is None:
            parser.error(f"--backends: {backend} is not installed (pip install {backend})")
    if len(set(backends)) < 2:
        parser.error("--backends compares two or more different backends")
    return backends


def side_by_side(args, argv):
    """Runs this script once per backend and turn (`--backends`, `--repeats`), each in its own
    process with the same options, and returns every run's rows."""
    own, skip = [], False  # the options but --backends, --repeats and --backend
    for word in argv:
        name = word.split("=")[0]
        if skip or name in ("--backends", "--repeats", "--backend"):
            skip = not skip and "=" not in word
            continue
        own.append(word)
    rows = []
    for turn in range(args.repeats):
        for backend in args.backends:
            print(f"[side by side] turn {turn + 1}/{args.repeats}: {backend}", flush=True)
            result = subprocess.run(
                [sys.executable, os.path.abspath(__file__), *own, "--backend", backend],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise SystemExit(f"The {backend} run failed:\n{result.stderr[-3000:]}")
            for line in result.stdout.splitlines():
                if line.startswith("{"):
                    rows.append({**json.loads(line), "turn": turn})
                    print(line, flush=True)
    return rows


def side_by_side_markdown(rows, backends):
    """One line per configuration: each backend's median training images per second over its
    turns, and its ratio to the first backend's."""
    configs = {}
    for row in rows:
        key = (row["model"], row["preset"], row["batch"], row["resolution"], row["precision"])
        configs.setdefault(key, {}).setdefault(row["backend"], []).append(row["train_img_s"])
    head = ["model", "preset", "batch", "resolution", "precision"]
    head += [f"{b} img/s" for b in backends] + [f"{b} / {backends[0]}" for b in backends[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, speeds in configs.items():
        medians = [float(np.median(speeds[b])) for b in backends]
        cells = [str(k) for k in key] + [f"{m:.1f}" for m in medians]
        cells += [f"{m / medians[0]:.2f}x" for m in medians[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def configurations(args):
    """(model, batch, size, options) for each run the arguments ask for."""
    if args.quick or args.all:
        table = QUICK if args.quick else PAPER
        return [(name, c["batch"], c["size"], dict(c["options"])) for name, c in table.items()]
    config = PAPER[args.model]
    options = dict(config["options"])
    if args.preset:
        options["preset"] = args.preset
    return [(args.model, args.batch or config["batch"], args.size or config["size"], options)]


def build(name, size, options):
    """The model, from its preset where the options name one: conditioned on 1,024-d
    embeddings (no text encoder to time), or AttnGAN over an untrained DAMSM (the small
    encoder for the small preset, else Inception-v3), or DF-GAN over an untrained DAMSM's
    frozen text encoder (its image encoder unused: the small one)."""
    from gan_zoo import DAMSM, DCGANCLS, DFGAN, AttnGAN, StackGAN, Vocabulary

    options = dict(options)
    preset = options.pop("preset", None)

    def make(model_cls, **kwargs):
        return model_cls.from_preset(preset, **kwargs) if preset else model_cls(**kwargs)

    if name in ("attngan", "dfgan"):
        vocabulary = Vocabulary([f"w{i}" for i in range(CUB_WORDS)])
        encoder = "small" if preset == "small" or name == "dfgan" else "inception_v3"
        damsm = DAMSM(vocabulary, image_encoder=encoder, image_size=size)
        if name == "dfgan":  # a DAMSM's sentences are 256-d, the birds preset's width
            return make(DFGAN, damsm=damsm, image_size=size, seed=0, sentence_dim=256, **options)
        return make(AttnGAN, damsm=damsm, image_size=size, seed=0, **options)
    if name.startswith("dcgan-cls"):
        return make(DCGANCLS, embedding_dim=1024, image_size=size, seed=0, **options)
    low = size if name == "stackgan1" else size // 4
    stage1 = make(StackGAN, embedding_dim=1024, image_size=low, seed=0, **options)
    if name == "stackgan1":
        return stage1
    return make(StackGAN, stage=2, stage1=stage1, image_size=size, seed=0)


def step_timer():
    """A Keras callback that records when each training step ends (Keras is imported late,
    after --backend has been set)."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    return StepTimer()


def profiler(directory, first_step):
    """A Keras callback that traces steps `first_step`.. of `fit` with JAX's profiler into
    `directory` (a Perfetto file and TensorBoard's)."""
    import keras

    class Profiler(keras.callbacks.Callback):
        tracing = False

        def on_train_batch_begin(self, batch, logs=None):
            if batch >= first_step and not self.tracing:
                import jax

                jax.profiler.start_trace(directory, create_perfetto_trace=True)
                self.tracing = True

        def on_train_end(self, logs=None):
            if self.tracing:
                import jax

                jax.profiler.stop_trace()

    return Profiler()


def slowest_operations(directory, count=8):
    """[(operation, total ms, share)] of the `count` XLA operations that took the most time in
    the newest trace under `directory`. Only the device's own timelines count: a GPU's "XLA
    Ops" line (else its streams), or on a CPU the XLA thread pool; runtime frames ("A::B") and
    Python are left out, so the shares are of the time spent in operations."""
    import glob
    import gzip

    newest = max(
        glob.glob(os.path.join(directory, "**", "*.trace.json.gz"), recursive=True),
        key=os.path.getmtime,
    )
    with gzip.open(newest) as f:
        events = json.load(f)["traceEvents"]
    named = {
        (e["pid"], e.get("tid"), e["name"]): e["args"]["name"]
        for e in events
        if e.get("ph") == "M" and e["name"] in ("process_name", "thread_name")
    }
    gpus = {
        pid
        for (pid, _, kind), name in named.items()
        if kind == "process_name" and name.startswith("/device:GPU")
    }
    threads = {
        (pid, tid): name for (pid, tid, kind), name in named.items() if kind == "thread_name"
    }
    if gpus:
        lines = {key for key, name in threads.items() if key[0] in gpus and name == "XLA Ops"} or {
            key for key, name in threads.items() if key[0] in gpus and name.startswith("Stream")
        }
    else:
        lines = {key for key, name in threads.items() if "XLAEigen" in name}
    totals = {}
    for event in events:
        if (
            event.get("ph") == "X"
            and (event["pid"], event.get("tid")) in lines
            and "::" not in event["name"]
        ):
            totals[event["name"]] = totals.get(event["name"], 0.0) + event["dur"] / 1000
    everything = sum(totals.values()) or 1.0
    top = sorted(totals.items(), key=lambda item: -item[1])[:count]
    return [(name, round(ms, 2), round(ms / everything, 3)) for name, ms in top]


def reset_device_memory_peak():
    """Start the peak over where the backend allows it (PyTorch, TensorFlow); JAX's peak is the
    process's, which is why gpu.sh runs one model per process."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
        elif backend == "tensorflow":
            import tensorflow as tf

            for gpu in tf.config.list_logical_devices("GPU"):
                tf.config.experimental.reset_memory_stats(gpu.name)
    except (RuntimeError, ValueError, AttributeError):
        pass


def device_memory_peak():
    """Peak accelerator memory in bytes where the backend reports it, else None."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            return stats.get("peak_bytes_in_use")
        if backend == "torch":
            import torch

            return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return tf.config.experimental.get_memory_info(gpus[0].name)["peak"] if gpus else None
    except (RuntimeError, ValueError, AttributeError):
        return None


def device_name():
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.devices()[0].device_kind
    if keras.backend.backend() == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return (
        tf.config.experimental.get_device_details(gpus[0]).get("device_name", "gpu")
        if gpus
        else "cpu"
    )


def conditions(model, rng, count):
    """Synthetic conditions for `count` images: 1,024-d embeddings, or token ids of captions
    8 to max_length words long (id 1, unknown, is never drawn)."""
    if model.embedding_dim:
        return {"embeddings": rng.standard_normal((count, model.embedding_dim)).astype("float32")}
    lengths = rng.integers(8, model.max_length + 1, count)
    tokens = rng.integers(2, len(model.vocabulary), (count, model.max_length)).astype("int32")
    return {"tokens": np.where(np.arange(model.max_length) < lengths[:, None], tokens, 0)}


def prompt_arguments(model, rng, count):
    """`generate` keyword arguments for `count` synthetic prompts."""
    cond = conditions(model, rng, count)
    if "embeddings" in cond:
        return cond
    return {"captions": model.vocabulary.decode(cond["tokens"])}


def training_data(model, batch, size, count, input_mode, rng):
    """`fit`'s input: arrays in memory, or uint8 images through `make_dataset` (the real
    pipeline: conversion, random crop, flip, caption sampling, batching)."""
    cond = conditions(model, rng, count)
    if input_mode == "resident":
        return {"images": rng.uniform(-1, 1, (count, size, size, 3)).astype("float32"), **cond}
    from gan_zoo.data import make_dataset

    images = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    if "embeddings" in cond:
        return make_dataset(
            images,
            embeddings=cond["embeddings"],
            batch_size=batch,
            random_crop=True,
            flip=True,
            seed=0,
        )
    return make_dataset(
        images,
        model.vocabulary.decode(cond["tokens"]),
        model.vocabulary,
        batch_size=batch,
        max_length=model.max_length,
        random_crop=True,
        flip=True,
        seed=0,
    )


def xla_flops(model, batch):
    """FLOPs of one compiled training step from XLA's cost analysis: JAX only (None elsewhere)."""
    import keras

    if keras.backend.backend() != "jax":
        return None
    import jax

    state = tuple(
        [v.value for v in group]
        for group in (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
            model.metrics_variables,
        )
    )
    lowered = jax.jit(model.train_step).lower(state, (batch,))
    for analyse in (lowered.cost_analysis, lambda: lowered.compile().cost_analysis()):
        cost = analyse()  # the lowered program's, where the platform offers it (the CPU; GPU
        # plugins do not), spares a second compilation; it counts before XLA's optimisations
        cost = cost[0] if isinstance(cost, list) else cost
        if cost and cost.get("flops"):
            return float(cost["flops"])
    return None


def peak_flops(device, precision):
    """The nominal peak of PEAK_FLOPS for this device, or None for one not in the table."""
    for name, peaks in PEAK_FLOPS.items():
        if name.lower() in device.lower():
            return peaks[precision]
    return None


def measure(name, batch, size, options, args, input_mode="resident"):
    import keras

    keras.config.set_dtype_policy(args.precision)
    keras.utils.set_random_seed(0)
    reset_device_memory_peak()
    model = build(name, size, options)
    jit = None if args.jit == "default" else args.jit == "on"
    per_call = args.steps_per_execution
    model.compile(jit_compile=jit, steps_per_execution=per_call)
    rng = np.random.default_rng(0)
    count = batch * (args.warmup + args.steps)
    data = training_data(model, batch, size, count, input_mode, rng)
    timer = step_timer()
    trace = args.trace and os.path.join(args.trace, f"{name}_{input_mode}")
    callbacks = [timer] + ([profiler(trace, args.warmup)] if trace else [])
    start = time.perf_counter()
    if input_mode == "resident":
        model.fit(data, batch_size=batch, epochs=1, verbose=0, callbacks=callbacks)
    else:
        model.fit(data, epochs=1, verbose=0, callbacks=callbacks)
    keras.ops.convert_to_numpy(model.generator.trainable_variables[0])  # wait for the device
    training_peak = device_memory_peak(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ends = np.array([start] + timer.ends)  # one entry per compiled call of `per_call` steps
    warm = args.warmup // per_call
    steps = np.diff(ends)[warm:] / per_call
    timed = ends[-1] - ends[warm]
    step_s = float(np.median(steps))
    prompts = prompt_arguments(model, rng, args.generate_batch)
    model.generate(seed=0, batch_size=args.generate_batch, **prompts)  # compile
    t = time.perf_counter()
    model.generate(seed=1, batch_size=args.generate_batch, **prompts)
    generate_seconds = time.perf_counter() - t
    one_batch = training_data(model, batch, size, batch, "resident", rng)
    flops = xla_flops(model, one_batch) if model.jit_compile else None
    peak = peak_flops(device_name(), args.precision)
    return {
        "model": name,
        "preset": options.get("preset", "custom"),
        "batch": batch,
        "resolution": size,
        "backend": keras.backend.backend(),
        "precision": args.precision,
        "jit": bool(model.jit_compile),
        "input": input_mode,
        "device": device_name(),
        "steps_per_execution": per_call,
        # the warm-up's time beyond its steps at the median step time: tracing and compiling
        "compile_s": round(max(0.0, float(ends[warm] - start) - args.warmup * step_s), 2),
        "step_ms_median": round(step_s * 1000, 2),
        "step_ms_p90": round(float(np.percentile(steps, 90)) * 1000, 2),
        "train_img_s": round(batch * args.steps / timed, 1),
        "generate_img_s": round(args.generate_batch / generate_seconds, 1),
        "host_peak_mb": round(training_peak[1] / 1024, 1),
        "device_peak_mb": None if training_peak[0] is None else round(training_peak[0] / 2**20, 1),
        "gflops_per_step": None if flops is None else round(flops / 1e9, 2),
        "mfu_pct": None if flops is None or peak is None else round(100 * flops / step_s / peak, 2),
        **({"slowest_operations": slowest_operations(trace)} if trace else {}),
    }


def markdown(rows):
    keys = [
        "model",
        "preset",
        "batch",
        "resolution",
        "backend",
        "precision",
        "jit",
        "input",
        "device",
        "compile_s",
        "step_ms_median",
        "step_ms_p90",
        "train_img_s",
        "generate_img_s",
        "gflops_per_step",
        "mfu_pct",
        "input_wait_pct",
    ]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row.get(k)) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.backends:
        rows = side_by_side(args, argv)
        print(side_by_side_markdown(rows, args.backends))
        return rows
    os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    rows = []
    modes = ["resident", "pipeline"] if args.input == "both" else [args.input]
    for name, batch, size, options in configurations(args):
        runs = {mode: measure(name, batch, size, options, args, mode) for mode in modes}
        if len(runs) == 2:  # the share of a pipeline-fed step spent waiting for its input
            fed, resident = runs["pipeline"]["step_ms_median"], runs["resident"]["step_ms_median"]
            runs["pipeline"]["input_wait_pct"] = round(max(0.0, 100 * (1 - resident / fed)), 1)
        for row in runs.values():
            print(json.dumps(row), flush=True)
            rows.append(row)
    print(markdown(rows))
    return rows


if __name__ == "__main__":
    main()
