"""Sweeps: one training recipe over a grid of model settings and several seeds.

GANs are known to be sensitive to their hyperparameters and to vary from run to run; a
sweep makes both measurable. Every (setting, seed) pair is an ordinary training run in its
own folder (`gan-zoo train` with `--set`), so each one resumes and can be inspected alone,
and the summary gives, per setting, the mean, the spread across seeds and the worst seed of
each quality measure, with the number of runs that ended collapsed.
"""

import itertools
import json
import os

import numpy as np

from gan_zoo import stabilizers
from gan_zoo.metrics.diversity import COLLAPSE_THRESHOLD

# Final measures read from each run's metrics.json, and which way is better.
MEASURES = {
    "alignment": "higher",
    "fid": "lower",
    "diversity": "higher",
    "d_loss": None,
    "g_loss": None,
}


def parse_value(text):
    """'0.1' -> 0.1, '.1' -> 0.1, '3' -> 3, 'true' -> True, anything else stays a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return float(text)  # what JSON refuses: '.1', '1.', 'nan' (which the checks then name)
    except ValueError:
        return text


def parse_setting(item):
    """'name=value' -> (name, value); the error names the malformed item."""
    name, _, value = item.partition("=")
    if not name or not value:
        raise ValueError(f"Expected NAME=VALUE (e.g. label_smoothing=0.1); got {item!r}")
    return name.strip(), parse_value(value.strip())


def parse_grid(items):
    """['lr=1e-4,2e-4', 'label_smoothing=0,0.1']
    -> {'lr': [1e-4, 2e-4], 'label_smoothing': [0, 0.1]}."""
    grid = {}
    for item in items or ():
        name, _, values = item.partition("=")
        if not name or not values:
            raise ValueError(
                f"--grid takes NAME=V1,V2,... (e.g. instance_noise=0,0.1); got {item!r}"
            )
        if name in grid:
            raise ValueError(f"--grid names {name!r} twice")
        grid[name.strip()] = [parse_value(v.strip()) for v in values.split(",")]
    if not grid:
        raise ValueError("A sweep needs at least one --grid NAME=V1,V2,...")
    for setting in settings(grid):  # now, not after the settings before it have trained
        stabilizers.check(**{k: v for k, v in setting.items() if k in stabilizers.SETTINGS})
    return grid


def settings(grid):
    """Every combination of the grid's values, as dicts, in the grid's order."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*grid.values())]


def setting_name(setting):
    """A folder name for a setting: 'label_smoothing=0.1,instance_noise=0'."""
    return ",".join(f"{name}={value}" for name, value in setting.items())


def run_folder(out, setting, seed):
    return os.path.join(out, setting_name(setting), f"seed_{seed}")


def is_finished(folder, epochs):
    """Whether the run in `folder` (a GAN's or a DAMSM's) trained all `epochs` and wrote its
    final measures."""
    path = os.path.join(folder, "metrics.json")
    if not os.path.exists(path):
        return False
    with open(path) as f:
        history = json.load(f)["history"]
    return max((len(v) for v in history.values() if isinstance(v, list)), default=0) >= epochs


def final_measures(folder):
    """A finished run's final numbers: held-out alignment (when measured), the last epoch's
    monitor values (FID on pixels, diversity) and losses; and its per-epoch history."""
    with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
    history = metrics["history"]
    final = {}
    for name in MEASURES:
        measured = [
            v for v in history.get(name, []) if v is not None
        ]  # None: not measured that epoch
        if measured:
            final[name] = measured[-1]
    if "alignment" in metrics:
        final["alignment"] = metrics["alignment"]["alignment"]  # 300 held-out captions, not 100
    return final, history


def summarize(out, grid, seeds):
    """Per setting: each measure's mean, spread across seeds (std: the population standard
    deviation, ddof=0; for two seeds half their distance), worst seed, and the count of
    collapsed runs; returned as a list of rows, in the grid's order."""
    rows = []
    for setting in settings(grid):
        finals = [final_measures(run_folder(out, setting, seed))[0] for seed in seeds]
        row = {"setting": setting, "seeds": list(seeds)}
        for name, better in MEASURES.items():
            values = np.array([f[name] for f in finals if name in f], dtype="float64")
            if not len(values):
                continue
            row[name] = {
                "mean": float(values.mean()),
                "std": float(values.std()),
                "values": values.tolist(),
            }
            if better:
                row[name]["worst"] = float(values.min() if better == "higher" else values.max())
        if "diversity" in row:
            row["collapsed"] = int(sum(v < COLLAPSE_THRESHOLD for v in row["diversity"]["values"]))
        rows.append(row)
    return rows


def markdown_table(rows):
    """The summary as a Markdown table: mean ± std across seeds (worst seed) per measure."""
    names = [n for n in MEASURES if any(n in row for row in rows)]
    header = ["setting"] + names + (["collapsed"] if any("collapsed" in r for r in rows) else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [setting_name(row["setting"])]
        for name in names:
            m = row.get(name)
            if m is None:
                cells.append("")
                continue
            digits = 1 if name == "fid" else 3
            cell = f"{m['mean']:.{digits}f} ± {m['std']:.{digits}f}"
            if "worst" in m:
                cell += f" (worst {m['worst']:.{digits}f})"
            cells.append(cell)
        if "collapsed" in header:
            cells.append(f"{row.get('collapsed', 0)} of {len(row['seeds'])}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(out, grid, seeds, path):
    """The per-epoch curves of every run (gan_zoo.utils.plots.save_sweep_curves)."""
    from gan_zoo.utils.plots import save_sweep_curves

    curves = {
        setting_name(s): [final_measures(run_folder(out, s, seed))[1] for seed in seeds]
        for s in settings(grid)
    }
    save_sweep_curves(
        curves, list(MEASURES), path, title=f"sweep: {len(curves)} settings × {len(seeds)} seeds"
    )
