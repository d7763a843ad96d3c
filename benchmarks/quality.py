"""Quality over seeds: how well, and how steadily, each recipe makes images follow captions.

    python benchmarks/quality.py                  # every DCGAN-cls recipe, 3 seeds each
    python benchmarks/quality.py --ablations      # and each modern remedy alone, over "paper"
    python benchmarks/quality.py --ablations "hinge loss,spectral norm"   # only these
    python benchmarks/quality.py --sensitivity    # each recipe over learning rates x batches
    python benchmarks/quality.py --quick          # a toy run that checks the pipeline (tests)

Every run is a `gan-zoo sweep` of one recipe and one seed (so each run is an ordinary training
folder that resumes and can be inspected alone) on captioned shapes at 32 px with a black
background, for a fixed number of epochs. From each run's per-epoch history (the quality
monitor's held-out alignment on 100 captions, pixel FID and diversity) and its final model it
reports, per recipe, over the seeds:

- held-out alignment (shape and colour both right, 300 captions) at the last epoch, and the
  best epoch's (monitored) alignment: the mean and the worst seed of each;
- instability: the largest epoch-to-epoch drop of the monitored alignment in the second half,
  and how far it ends below its best epoch (a slow slide no single drop shows);
- mode coverage of the 18 (shape, colour) combinations, diversity and pixel FID at the end;
- wall-clock minutes per run.

It writes QUALITY.md (the table, the run lengths and the machine) and quality.png (alignment per
epoch, one line per seed) into `--report-dir`.

`--sensitivity` measures instead how much each recipe's final alignment depends on its
hyperparameters: the learning rate times 0.25, 1 and 4, at batches of 32 and 128, two seeds
each, every run the same number of steps (epochs scale with the batch). It writes
SENSITIVITY.md (per recipe and setting the seeds' final alignment, and the band: the range of
the settings' means) and sensitivity.png (each run's final alignment per setting, one panel per
recipe). A good recipe is one whose band is narrow.
"""

import argparse
import inspect
import json
import os
import platform
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Each remedy on its own, over the paper recipe (`--ablations`, one seed).
ABLATIONS = {
    "hinge loss": {"adversarial_loss": "hinge"},
    "spectral norm": {"spectral_norm": True},
    "DiffAugment": {"diff_augment": "translation,cutout"},
    "projection head": {"projection": True},
    "similar wrong pairs": {"wrong_pairs": "similar"},
    "G average 0.99": {"generator_ema": 0.99},
    "TTUR with Adam betas 0 and 0.9": {
        "g_learning_rate": 1e-4,
        "d_learning_rate": 4e-4,
        "beta_1": 0.0,
        "beta_2": 0.9,
    },
}
FULL = dict(num_images=5000, epochs=38, eval_samples=300, seeds="0,1,2")  # 38 x 78 = 2,964 steps
QUICK = dict(num_images=128, epochs=2, eval_samples=24, seeds="0,1")
# `--sensitivity`: the learning rate's multiples and the batches, each run as many steps as a
# FULL run at batch 64 (2,964: 19 epochs at 32, 76 at 128), two seeds; QUICK's toy version.
# How each model's run trains: its phases, each the options of a `gan-zoo` command; "{stage1}"
# and "{damsm}" name an earlier phase's folder. StackGAN paints 32 px over 16 px sketches and
# AttnGAN's small preset draws 16 then 32 px, over a DAMSM trained on the same images;
# "dcgan-cls+damsm" reads captions with that DAMSM's frozen text encoder, as the paper reads
# them with a pretrained char-CNN-RNN, instead of training its own with the GAN; DF-GAN reads
# them with it as its authors do, in one stage at 32 px.
DAMSM = "--model damsm --image-size 32"
MODELS = {
    "dcgan-cls": {"gan": "--model dcgan-cls --preset small --image-size 32"},
    "dcgan-cls+damsm": {
        "damsm": DAMSM,
        "gan": "--model dcgan-cls --preset small --image-size 32 --damsm {damsm}",
    },
    "stackgan": {
        "stage1": "--model stackgan --preset small --stage 1 --image-size 16",
        "gan": "--model stackgan --preset small --stage 2 --stage1 {stage1} --image-size 32",
    },
    "attngan": {
        "damsm": DAMSM,
        "gan": "--model attngan --preset small --damsm {damsm}",
    },
    "dfgan": {
        "damsm": DAMSM,
        "gan": "--model dfgan --preset small --image-size 32 --damsm {damsm}",
    },
}
DAMSM_EPOCHS = {False: 10, True: 1}  # by --quick
TARGET = 0.8  # the held-out alignment a stable recipe is to hold, drawn in the figure
SENSITIVITY = dict(lr_scales=(0.25, 1, 4), batches=(32, 128), seeds=(0, 1))
SENSITIVITY_QUICK = dict(lr_scales=(0.25, 4), batches=(32,), seeds=(0,))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="dcgan-cls", help=", ".join(MODELS))
    parser.add_argument("--recipes", help="RECIPES names (default: each model's every recipe)")
    parser.add_argument("--seeds", help=f"comma-separated (default {FULL['seeds']})")
    parser.add_argument("--epochs", type=int, help=f"per run (default {FULL['epochs']})")
    parser.add_argument("--num-images", type=int, help="training images (default 5000)")
    parser.add_argument(
        "--ablations",
        nargs="?",
        const=",".join(ABLATIONS),
        help="each remedy alone over each DCGAN-cls model's paper recipe, first seed only "
        f"(default every one; or comma-separated names from: {', '.join(ABLATIONS)})",
    )
    parser.add_argument(
        "--sensitivity", action="store_true", help="each recipe over learning rates x batches"
    )
    parser.add_argument("--quick", action="store_true", help="toy sizes: checks the pipeline")
    parser.add_argument("--out", default="runs/quality", help="the runs' folders")
    parser.add_argument("--report-dir", default="benchmarks", help="QUALITY.md, quality.png")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    args.seeds = [int(s) for s in str(args.seeds).split(",")]
    args.ablations = args.ablations.split(",") if args.ablations else []
    unknown = [name for name in args.ablations if name not in ABLATIONS]
    if unknown:
        parser.error(f"unknown ablations {unknown}; choose from {', '.join(ABLATIONS)}")
    return args


def folder_name(name):
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def train(args, name, settings, seed, batch_size=64, model="dcgan-cls"):
    """One run of `model` (its `MODELS` phases in order, each a `gan-zoo` command) under one
    recipe (`settings["recipe"]`, else "paper") and one seed, with any other settings set over
    it; each GAN phase as many steps as `args.epochs` at batch 64. Returns the last phase's
    folder and the minutes its phases have trained in all (see `timed`)."""
    from gan_zoo import cli

    epochs = max(1, round(steps(args) * batch_size / args.num_images))
    recipe = settings.get("recipe", "paper")
    data = ["--data", "shapes", "--fix", "background=black", "--batch-size", str(batch_size)]
    data += ["--num-images", str(args.num_images)]
    folders, minutes = {}, 0.0
    for phase, options in MODELS[model].items():
        if phase == "damsm":  # not a GAN: trained once per seed, shared by models and recipes
            folder = os.path.join(args.out, "damsm", f"seed_{seed}")
            phase_epochs = DAMSM_EPOCHS[args.quick]
            command = ["train", *options.split(), *data, "--seed", str(seed), "--resume"]
            command += ["--epochs", str(phase_epochs), "--out", folder]
        else:
            phase_epochs = epochs
            out = os.path.join(args.out, folder_name(f"{name} {phase}"))
            folder = os.path.join(out, f"recipe={recipe}", f"seed_{seed}")
            command = ["sweep", *options.format(**folders).split(), *data, "--out", out]
            command += ["--seeds", str(seed), "--epochs", str(phase_epochs)]
            command += ["--grid", f"recipe={recipe}", "--eval-samples", str(args.eval_samples)]
            command += [
                f"--set={k}={json.dumps(v) if not isinstance(v, str) else v}"
                for k, v in settings.items()
                if k != "recipe"
            ]
        folders[phase] = folder
        what = f"the run {name!r} ({phase}), seed {seed}"
        minutes += timed(cli.main, command, folder, what, phase_epochs)
    return folder, minutes


def timed(main, command, folder, what, epochs):
    """Runs `command` and returns the minutes the run has trained in all, kept in the folder:
    a call that finds the run finished adds nothing; one that resumes it adds its own time."""
    from gan_zoo import sweep

    timing = os.path.join(folder, "train_minutes.json")
    finished = sweep.is_finished(folder, epochs)
    start = time.time()
    if main(command) != 0:
        raise SystemExit(f"{what} failed: see {folder}")
    minutes = 0.0
    if os.path.exists(timing):
        with open(timing) as f:
            minutes = json.load(f)["minutes"]
    if not finished:
        minutes += (time.time() - start) / 60
        with open(timing, "w") as f:
            json.dump({"minutes": minutes}, f)
    return minutes


def largest_drop(curve):
    """The largest fall of a per-epoch curve from one epoch to the next in its second half
    (0 when it never falls there): how far a run can swing just before it is stopped."""
    half = curve[len(curve) // 2 :]
    return max([before - after for before, after in zip(half, half[1:])] + [0.0])


def fall_from_best(curve):
    """How far a per-epoch curve ends below its best epoch: a slow slide that no single
    epoch-to-epoch drop shows."""
    return max(curve) - curve[-1]


def run_summary(folder):
    """One finished run's numbers: its alignment curve and final measures."""
    import keras

    from gan_zoo.metrics import shapes_metrics

    with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
    history = metrics["history"]
    curve = [a for a in history.get("alignment", []) if a is not None]
    model = keras.models.load_model(os.path.join(folder, "model.keras"))
    accuracy = metrics["alignment"]["accuracy"]
    return {
        "curve": curve,
        "last": metrics["alignment"]["alignment"],
        "shape": accuracy["shape"],
        "colour": accuracy["colour"],
        "best": max(curve),
        "best_epoch": int(np.argmax(curve)) + 1,
        "largest_drop": largest_drop(curve),
        "fall_from_best": fall_from_best(curve),
        "coverage": shapes_metrics.coverage(model)["coverage"],
        "diversity": history["diversity"][-1],
        "fid": history["fid"][-1],
    }


def recipe_row(runs):
    """Mean and worst seed of each measure over one recipe's runs."""
    row = {"seeds": len(runs)}
    for key, worst in (
        ("last", min),
        ("shape", min),
        ("colour", min),
        ("best", min),
        ("largest_drop", max),
        ("fall_from_best", max),
        ("coverage", min),
        ("diversity", min),
        ("fid", max),
        ("minutes", max),
    ):
        values = [run[key] for run in runs]
        row[key] = {"mean": float(np.mean(values)), "worst": float(worst(values))}
    return row


def markdown(rows, args):
    lines = [
        "| model | recipe | seeds | alignment, last epoch: mean (worst) | shape right, last "
        "| colour right, last | best epoch: mean (worst) | largest drop, 2nd half: mean "
        "(worst) | fall from best to last: mean (worst) | coverage | diversity | pixel FID "
        "| minutes |",
        "|---" * 13 + "|",
    ]
    for row in rows.values():
        cells = [row["model"], row["recipe"], str(row["seeds"])]
        cells.append(f"{row['last']['mean']:.3f} ({row['last']['worst']:.3f})")
        for key in ("shape", "colour"):  # "–" in a row kept from before they were reported
            cells.append(f"{row[key]['mean']:.2f}" if key in row else "–")
        for key in ("best", "largest_drop", "fall_from_best"):
            value = row.get(key)  # "–" in a row kept from before it was reported
            cells.append(f"{value['mean']:.3f} ({value['worst']:.3f})" if value else "–")
        cells += [
            f"{row['coverage']['mean']:.2f}",
            f"{row['diversity']['mean']:.3f}",
            f"{row['fid']['mean']:.1f}",
            f"{row['minutes']['mean']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"{setup(args)}, batch 64, {args.epochs} epochs ({steps(args)} steps) per GAN run "
        f"(StackGAN: per stage; AttnGAN, dcgan-cls+damsm and dfgan: after {DAMSM_EPOCHS[False]} "
        "epochs of their DAMSM, whose time the minutes include); "
        f"alignment of the final images at the end on {args.eval_samples} held-out captions, "
        f"per epoch on 100. {machine()}",
    ]
    return "\n".join(lines)


def steps(args):
    """The steps of a run at batch 64, which every run of the benchmark takes."""
    return args.epochs * (args.num_images // 64)


def setup(args):
    return (
        f"Small presets, captioned shapes at 32 px (black background), {args.num_images} "
        "training images"
    )


def machine():
    return f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}."


def plot(curves, path):
    """Alignment per epoch, one line per seed: the recipes in one panel and, when there are
    any, the one-seed ablations in a second, beside their paper recipe's first seed (black)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ablations = {name: runs for name, runs in curves.items() if name.endswith("(1 seed)")}
    recipes = {name: runs for name, runs in curves.items() if name not in ablations}
    panels = [(recipes, "Captioned shapes: one line per seed")]
    if ablations:
        panels.append((ablations, "Each remedy alone over the paper recipe (1 seed)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 3.6), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (rows, title) in zip(axes[0], panels):
        if rows is ablations:
            for name, runs in recipes.items():
                if name.endswith(" paper"):
                    epochs = np.arange(1, len(runs[0]) + 1)
                    ax.plot(epochs, runs[0], "k", lw=2, label=f"{name}, first seed")
        for colour, (name, runs) in zip(colours * 3, rows.items()):
            for i, curve in enumerate(runs):
                epochs = np.arange(1, len(curve) + 1)
                ax.plot(epochs, curve, color=colour, alpha=0.8, label=name if i == 0 else None)
        ax.axhline(TARGET, color="grey", linestyle="--", linewidth=0.8, label=f"target {TARGET}")
        ax.set(xlabel="epoch", ylabel="held-out alignment (100 captions)", ylim=(0, 1))
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def sensitivity(args, recipes):
    """`--sensitivity`: every recipe at each learning-rate multiple and batch, over the seeds.

    Returns:
        {recipe: {"lr x{scale}, batch {batch}": [final alignment of each seed]}}.
    """
    from gan_zoo import DCGANCLS
    from gan_zoo.models.base import TextToImageGAN
    from gan_zoo.models.presets import preset_settings

    grid = SENSITIVITY_QUICK if args.quick else SENSITIVITY
    results = {}
    for recipe in recipes:
        settings = DCGANCLS.RECIPES[recipe]
        if {"g_learning_rate", "d_learning_rate"} & set(settings):
            raise SystemExit(
                f"--sensitivity scales learning_rate, which recipe {recipe!r} overrides with "
                "per-player rates; measure it without --sensitivity."
            )
        base = preset_settings(DCGANCLS, "small", recipe=recipe).get(
            "learning_rate", inspect.signature(TextToImageGAN).parameters["learning_rate"].default
        )
        results[recipe] = {}
        for batch in grid["batches"]:
            for scale in grid["lr_scales"]:
                label = f"lr x{scale:g}, batch {batch}"
                run = {"recipe": recipe, "learning_rate": base * scale}
                finals = []
                for seed in grid["seeds"]:
                    folder, _ = train(args, f"sensitivity {recipe} {label}", run, seed, batch)
                    finals.append(run_summary(folder)["last"])
                    print(f"[sensitivity] {recipe}, {label}, seed {seed}: {finals[-1]:.3f}")
                results[recipe][label] = finals
    return results


def sensitivity_markdown(results, args):
    grid = SENSITIVITY_QUICK if args.quick else SENSITIVITY
    labels = list(next(iter(results.values())))
    lines = [
        "| recipe | " + " | ".join(labels) + " | band (range of the settings' means) |",
        "|---" * (len(labels) + 2) + "|",
    ]
    for recipe, finals in results.items():
        means = [float(np.mean(v)) for v in finals.values()]
        cells = [", ".join(f"{a:.2f}" for a in v) for v in finals.values()]
        band = f"{min(means):.2f} – {max(means):.2f} ({max(means) - min(means):.2f})"
        lines.append(f"| {recipe} | " + " | ".join(cells) + f" | {band} |")
    lines += [
        "",
        f"Final held-out alignment ({args.eval_samples} captions) of each seed "
        f"({', '.join(map(str, grid['seeds']))}); {setup(args)}, {steps(args)} steps per run "
        f"at every batch. {machine()}",
    ]
    return "\n".join(lines)


def plot_sensitivity(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6), squeeze=False)
    for ax, (recipe, finals) in zip(axes[0], results.items()):
        means = [float(np.mean(v)) for v in finals.values()]
        ax.axhspan(min(means), max(means), color="tab:blue", alpha=0.15, label="band of means")
        for x, values in enumerate(finals.values()):
            ax.scatter([x] * len(values), values, color="tab:blue", s=18)
        ax.set_xticks(range(len(finals)), list(finals), rotation=45, ha="right", fontsize=7)
        ax.set(title=recipe, ylim=(0, 1), ylabel="final held-out alignment")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def earlier_rows(args, plan):
    """The rows (and curves) of the report already in `--report-dir` that this call does not
    measure, when they were measured at the same run length: the benchmark takes hours, so
    its table grows a row at a time.

    Returns:
        (rows, curves), each {row name: ...}; empty when there is no such report.
    """
    path = os.path.join(args.report_dir, "quality.json")
    if not os.path.exists(path):
        return {}, {}
    with open(path) as f:
        report = json.load(f)
    length = ("epochs", "num_images", "eval_samples")
    if any(report["args"].get(key) != getattr(args, key) for key in length):
        print(f"[quality] not keeping {path}'s rows: they were measured at another run length")
        return {}, {}
    kept = [name for name in report["rows"] if name not in plan]
    if kept:
        print(f"[quality] keeping the rows of {path} not measured now: {', '.join(kept)}")
    return (
        {name: report["rows"][name] for name in kept},
        {name: report["curves"][name] for name in kept},
    )


def model_class(model):
    """The class a benchmark model trains: that of the `--model` of its GAN phase."""
    import gan_zoo
    from gan_zoo import cli

    words = MODELS[model]["gan"].split()
    return getattr(gan_zoo, cli.MODELS[words[words.index("--model") + 1]])


def main(argv=None):
    args = parse_args(argv)
    models, recipes = args.models.split(","), {}
    for model in models:
        if model not in MODELS:
            raise SystemExit(f"Unknown model {model!r}; choose from {sorted(MODELS)}")
        known = list(model_class(model).RECIPES)
        recipes[model] = args.recipes.split(",") if args.recipes else known
        for recipe in recipes[model]:
            if recipe not in known:
                raise SystemExit(f"Unknown {model} recipe {recipe!r}; choose from {known}")
    os.makedirs(args.report_dir, exist_ok=True)
    if args.sensitivity:
        if models != ["dcgan-cls"]:
            raise SystemExit("--sensitivity measures DCGAN-cls only; leave --models out.")
        results = sensitivity(args, recipes["dcgan-cls"])
        table = sensitivity_markdown(results, args)
        with open(os.path.join(args.report_dir, "SENSITIVITY.md"), "w") as f:
            f.write("# Sensitivity to the learning rate and the batch\n\n")
            f.write("Written by `python benchmarks/quality.py --sensitivity`.\n\n")
            f.write(table + "\n\n![final alignment per setting](sensitivity.png)\n")
        with open(os.path.join(args.report_dir, "sensitivity.json"), "w") as f:
            json.dump({"results": results, "args": vars(args)}, f, indent=1)
        plot_sensitivity(results, os.path.join(args.report_dir, "sensitivity.png"))
        print(table)
        return 0
    plan = {}  # row name -> (model, recipe label, settings, seeds)
    for model in models:
        for recipe in recipes[model]:
            plan[f"{model} {recipe}"] = (model, recipe, {"recipe": recipe}, args.seeds)
    for model in models:
        if model_class(model).__name__ != "DCGANCLS":
            continue
        for name in args.ablations:
            label = f"{name} (1 seed)"
            plan[f"{model} {label}"] = (model, label, ABLATIONS[name], args.seeds[:1])
    rows, curves = earlier_rows(args, plan)
    for name, (model, recipe, settings, seeds) in plan.items():
        runs = []
        for seed in seeds:
            folder, minutes = train(args, name, settings, seed, model=model)
            runs.append({**run_summary(folder), "minutes": minutes})
            print(f"[quality] {name}, seed {seed}: {json.dumps(runs[-1])}", flush=True)
        rows[name] = {"model": model, "recipe": recipe, **recipe_row(runs)}
        curves[name] = [run["curve"] for run in runs]
    table = markdown(rows, args)
    with open(os.path.join(args.report_dir, "QUALITY.md"), "w") as f:
        f.write("# Quality over seeds\n\nWritten by `python benchmarks/quality.py`.\n\n")
        f.write(table + "\n\n![alignment per epoch](quality.png)\n")
    with open(os.path.join(args.report_dir, "quality.json"), "w") as f:
        json.dump({"rows": rows, "curves": curves, "args": vars(args)}, f, indent=1)
    plot(curves, os.path.join(args.report_dir, "quality.png"))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
