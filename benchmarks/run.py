"""Training and generation throughput of the zoo's models.

    python benchmarks/run.py --model dcgan-cls --preset small --size 32 --batch 16 --steps 20
    python benchmarks/run.py --quick            # small presets, every model, < 5 min on a CPU
    python benchmarks/run.py --all              # the papers' configurations

Each run trains the real `train_step` (through `fit`) on synthetic batches for `--warmup`
steps (tracing and compilation, reported as compile seconds) and then `--steps` timed steps,
and prints one JSON line: step time (median and p90 of the per-step intervals, which include
any host synchronisation), images per second over the timed steps, generation images per
second (`generate` at `--generate-batch`), and peak host and device memory. The backend is
chosen with `--backend` (set before Keras is imported). A Markdown table closes the output.
FLOPs and MFU are not measured yet.
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np

# The paper configurations the authors' code was timed at (../shared/reference, §8): batch,
# image size, and the model's constructor options. DCGAN-cls and StackGAN are conditioned on
# 1,024-d embeddings, as the authors' models are; AttnGAN reads token ids through its frozen
# DAMSM (Inception-v3 with random weights at the paper config) over the CUB vocabulary size.
PAPER = {
    "dcgan-cls": dict(batch=64, size=64, options=dict(preset="birds")),
    "dcgan-cls-plain": dict(batch=64, size=64, options=dict(variant="plain", ngf=64, ndf=64)),
    "stackgan1": dict(batch=64, size=64, options=dict(preset="birds")),
    "stackgan2": dict(batch=64, size=256, options=dict(preset="birds")),
    "attngan": dict(batch=20, size=256, options=dict(preset="birds")),
}
QUICK = {
    "dcgan-cls": dict(batch=16, size=32, options=dict(preset="small")),
    "stackgan1": dict(batch=16, size=32, options=dict(preset="small")),
    "stackgan2": dict(batch=16, size=64, options=dict(preset="small")),
    "attngan": dict(batch=16, size=32, options=dict(preset="small")),
}
CUB_WORDS = 5449  # the authors' CUB vocabulary, padding aside


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(PAPER), default="dcgan-cls")
    parser.add_argument("--preset", help="birds, coco or small (default: the paper config's)")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--size", type=int, help="image size")
    parser.add_argument("--backend", choices=("tensorflow", "jax", "torch"),
                        default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16", "mixed_float16"),
                        default="float32")
    parser.add_argument("--jit", choices=("on", "off", "default"), default="default")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--generate-batch", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="every model, small presets")
    parser.add_argument("--all", action="store_true", help="every model, the papers' configs")
    return parser.parse_args(argv)


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
    """The model: conditioned on 1,024-d embeddings (no text encoder to time), or AttnGAN over
    an untrained DAMSM (the small encoder for the small preset, else Inception-v3)."""
    from gan_zoo import DAMSM, DCGANCLS, AttnGAN, StackGAN, Vocabulary

    if name == "attngan":
        vocabulary = Vocabulary([f"w{i}" for i in range(CUB_WORDS)])
        small = options.get("preset") == "small"
        damsm = DAMSM(vocabulary, image_encoder="small" if small else "inception_v3", image_size=size)
        return AttnGAN(damsm, image_size=size, seed=0, **options)
    if name.startswith("dcgan-cls"):
        return DCGANCLS(embedding_dim=1024, image_size=size, seed=0, **options)
    stage1 = StackGAN(embedding_dim=1024, image_size=size if name == "stackgan1" else size // 4,
                      seed=0, **options)
    if name == "stackgan1":
        return stage1
    return StackGAN(stage=2, stage1=stage1, image_size=size, seed=0)


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
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "gpu") if gpus else "cpu"


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


def measure(name, batch, size, options, args):
    import keras

    keras.config.set_dtype_policy(args.precision)
    keras.utils.set_random_seed(0)
    model = build(name, size, options)
    jit = None if args.jit == "default" else args.jit == "on"
    model.compile(jit_compile=jit)
    rng = np.random.default_rng(0)
    count = batch * (args.warmup + args.steps)
    data = {"images": rng.uniform(-1, 1, (count, size, size, 3)).astype("float32"),
            **conditions(model, rng, count)}
    timer = step_timer()
    start = time.perf_counter()
    model.fit(data, batch_size=batch, epochs=1, verbose=0, callbacks=[timer])
    keras.ops.convert_to_numpy(model.generator.trainable_variables[0])  # wait for the device
    ends = np.array([start] + timer.ends)
    steps = np.diff(ends)[args.warmup:]
    timed = ends[-1] - ends[args.warmup]
    prompts = prompt_arguments(model, rng, args.generate_batch)
    model.generate(seed=0, batch_size=args.generate_batch, **prompts)  # compile
    t = time.perf_counter()
    model.generate(seed=1, batch_size=args.generate_batch, **prompts)
    generate_seconds = time.perf_counter() - t
    return {
        "model": name, "preset": options.get("preset", "custom"), "batch": batch, "resolution": size,
        "backend": keras.backend.backend(), "precision": args.precision, "jit": bool(model.jit_compile),
        "device": device_name(), "compile_s": round(float(ends[args.warmup] - start), 2),
        "step_ms_median": round(float(np.median(steps)) * 1000, 2),
        "step_ms_p90": round(float(np.percentile(steps, 90)) * 1000, 2),
        "train_img_s": round(batch * args.steps / timed, 1),
        "generate_img_s": round(args.generate_batch / generate_seconds, 1),
        "host_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "device_peak_mb": (lambda b: None if b is None else round(b / 2 ** 20, 1))(device_memory_peak()),
        "flops_per_step": None, "mfu": None,
    }


def markdown(rows):
    keys = ["model", "preset", "batch", "resolution", "backend", "precision", "jit", "device",
            "compile_s", "step_ms_median", "step_ms_p90", "train_img_s", "generate_img_s"]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    rows = []
    for name, batch, size, options in configurations(args):
        row = measure(name, batch, size, options, args)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(markdown(rows))
    return rows


if __name__ == "__main__":
    main()
