"""Quality over seeds: how well, and how steadily, each recipe makes images follow captions.

    python benchmarks/quality.py                  # paper and stable recipes, 3 seeds each
    python benchmarks/quality.py --ablations      # and each remedy of the stable recipe alone
    python benchmarks/quality.py --quick          # a toy run that checks the pipeline (tests)

Every run is a `gan-zoo sweep` of one recipe and one seed (so each run is an ordinary training
folder that resumes and can be inspected alone) on captioned shapes at 32 px with a black
background, for a fixed number of epochs. From each run's per-epoch history (the quality
monitor's held-out alignment on 100 captions, pixel FID and diversity) and its final model it
reports, per recipe, over the seeds:

- held-out alignment (shape and colour both right, 300 captions) at the last epoch, and the
  best epoch's (monitored) alignment: the mean and the worst seed of each;
- instability: the largest epoch-to-epoch drop of the monitored alignment in the second half;
- mode coverage of the 18 (shape, colour) combinations, diversity and pixel FID at the end;
- wall-clock minutes per run.

It writes QUALITY.md (the table, the run lengths and the machine) and quality.png (alignment per
epoch, one line per seed) into `--report-dir`.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Each remedy of the stable recipe on its own, over the paper recipe (`--ablations`, one seed).
ABLATIONS = {
    "hinge loss": {"adversarial_loss": "hinge"},
    "spectral norm": {"spectral_norm": True},
    "DiffAugment": {"diff_augment": "translation,cutout"},
    "projection head": {"projection": True},
    "G average 0.99": {"generator_ema": 0.99},
    "TTUR, Adam (0, 0.9)": {
        "g_learning_rate": 1e-4,
        "d_learning_rate": 4e-4,
        "beta_1": 0.0,
        "beta_2": 0.9,
    },
}
FULL = dict(num_images=5000, epochs=38, eval_samples=300, seeds="0,1,2")  # 38 x 78 = 2,964 steps
QUICK = dict(num_images=128, epochs=2, eval_samples=24, seeds="0,1")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default="paper,stable", help="DCGANCLS.RECIPES names")
    parser.add_argument("--seeds", help=f"comma-separated (default {FULL['seeds']})")
    parser.add_argument("--epochs", type=int, help=f"per run (default {FULL['epochs']})")
    parser.add_argument("--num-images", type=int, help="training images (default 5000)")
    parser.add_argument("--ablations", action="store_true", help="each remedy alone, seed 0")
    parser.add_argument("--quick", action="store_true", help="toy sizes: checks the pipeline")
    parser.add_argument("--out", default="runs/quality", help="the runs' folders")
    parser.add_argument("--report-dir", default="benchmarks", help="QUALITY.md, quality.png")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    args.seeds = [int(s) for s in str(args.seeds).split(",")]
    return args


def folder_name(name):
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def train(args, name, settings, seed):
    """One run: a sweep of one recipe (`settings["recipe"]`, else "paper") and one seed, with
    any other settings set over it. Returns its folder and the minutes it trained (read back
    from the folder when an earlier call had finished it)."""
    from gan_zoo import cli

    command = "sweep --model dcgan-cls --preset small --data shapes --fix background=black".split()
    command += ["--image-size", "32", "--batch-size", "64", "--seeds", str(seed)]
    command += ["--num-images", str(args.num_images), "--epochs", str(args.epochs)]
    command += ["--eval-samples", str(args.eval_samples)]
    command += ["--out", os.path.join(args.out, folder_name(name))]
    recipe = settings.get("recipe", "paper")
    command += ["--grid", f"recipe={recipe}"]
    command += [
        f"--set={k}={json.dumps(v) if not isinstance(v, str) else v}"
        for k, v in settings.items()
        if k != "recipe"
    ]
    folder = os.path.join(args.out, folder_name(name), f"recipe={recipe}", f"seed_{seed}")
    timing = os.path.join(folder, "train_minutes.json")
    start = time.time()
    if cli.main(command) != 0:
        raise SystemExit(f"the run {name!r}, seed {seed}, failed: see {folder}")
    minutes = (time.time() - start) / 60
    if not os.path.exists(timing):
        with open(timing, "w") as f:
            json.dump({"minutes": minutes}, f)
    with open(timing) as f:
        return folder, json.load(f)["minutes"]


def largest_drop(curve):
    """The largest fall of a per-epoch curve from one epoch to the next in its second half
    (0 when it never falls there): how far a run can swing just before it is stopped."""
    half = curve[len(curve) // 2 :]
    return max([before - after for before, after in zip(half, half[1:])] + [0.0])


def run_summary(folder):
    """One finished run's numbers: its alignment curve and final measures."""
    import keras

    from gan_zoo.metrics import shapes_metrics

    with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
    history = metrics["history"]
    curve = [a for a in history.get("alignment", []) if a is not None]
    model = keras.models.load_model(os.path.join(folder, "model.keras"))
    return {
        "curve": curve,
        "last": metrics["alignment"]["alignment"],
        "best": max(curve),
        "best_epoch": int(np.argmax(curve)) + 1,
        "largest_drop": largest_drop(curve),
        "coverage": shapes_metrics.coverage(model)["coverage"],
        "diversity": history["diversity"][-1],
        "fid": history["fid"][-1],
    }


def recipe_row(runs):
    """Mean and worst seed of each measure over one recipe's runs."""
    row = {"seeds": len(runs)}
    for key, worst in (
        ("last", min),
        ("best", min),
        ("largest_drop", max),
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
        "| recipe | seeds | alignment, last epoch: mean (worst) | best epoch: mean (worst) "
        "| largest drop, 2nd half: mean (worst) | coverage | diversity | pixel FID | minutes |",
        "|---" * 9 + "|",
    ]
    for name, row in rows.items():
        cells = [name, str(row["seeds"])]
        for key, digits in (("last", 3), ("best", 3), ("largest_drop", 3)):
            cells.append(f"{row[key]['mean']:.{digits}f} ({row[key]['worst']:.{digits}f})")
        cells += [
            f"{row['coverage']['mean']:.2f}",
            f"{row['diversity']['mean']:.3f}",
            f"{row['fid']['mean']:.1f}",
            f"{row['minutes']['mean']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    steps = args.epochs * (args.num_images // 64)
    lines += [
        "",
        f"DCGAN-cls small, captioned shapes at 32 px (black background), {args.num_images} "
        f"training images, batch 64, {args.epochs} epochs ({steps} steps) per run; alignment "
        f"at the end on {args.eval_samples} held-out captions, per epoch on 100. Machine: "
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}.",
    ]
    return "\n".join(lines)


def plot(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, (name, runs) in zip(colours * 3, curves.items()):
        for i, curve in enumerate(runs):
            epochs = np.arange(1, len(curve) + 1)
            ax.plot(epochs, curve, color=colour, alpha=0.8, label=name if i == 0 else None)
    ax.set(xlabel="epoch", ylabel="held-out alignment (100 captions)", ylim=(0, 1))
    ax.set_title("DCGAN-cls on captioned shapes: one line per seed")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    from gan_zoo import DCGANCLS

    plan = {}
    for recipe in args.recipes.split(","):
        if recipe not in DCGANCLS.RECIPES:
            raise SystemExit(f"Unknown recipe {recipe!r}; choose from {sorted(DCGANCLS.RECIPES)}")
        plan[recipe] = ({"recipe": recipe}, args.seeds)
    if args.ablations:
        for name, settings in ABLATIONS.items():
            plan[f"{name} (1 seed)"] = (settings, args.seeds[:1])
    rows, curves = {}, {}
    for name, (settings, seeds) in plan.items():
        runs = []
        for seed in seeds:
            folder, minutes = train(args, name, settings, seed)
            runs.append({**run_summary(folder), "minutes": minutes})
            print(f"[quality] {name}, seed {seed}: {json.dumps(runs[-1])}", flush=True)
        rows[name], curves[name] = recipe_row(runs), [run["curve"] for run in runs]
    os.makedirs(args.report_dir, exist_ok=True)
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
