"""PNG figures people look at: sample grids, loss curves, attention maps (matplotlib, no display
needed)."""

import numpy as np

from gan_zoo.utils.files import atomic_file


def _figure(rows=1, cols=1, figsize=None, squeeze=True):
    """A matplotlib Figure and its axes, made without pyplot: no display, and no change to the
    pyplot backend of the session calling us (a notebook keeps showing its own plots)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=squeeze)


def save_image_grid(images, path, row_labels=None, title=None):
    """Saves uint8 images [R·C, H, W, 3] as a grid of R rows (one label per row)."""
    images = np.asarray(images)
    rows = len(row_labels) if row_labels else 1
    cols = len(images) // rows
    if not cols or len(images) % rows:
        raise ValueError(
            f"A grid of {rows} labelled rows needs a whole, non-zero number of images "
            f"per row; got {len(images)} images"
        )
    fig, axes = _figure(
        rows, cols, figsize=(1.2 * cols + (3.2 if row_labels else 0), 1.2 * rows), squeeze=False
    )
    for r in range(rows):
        for c in range(cols):
            axes[r, c].imshow(images[r * cols + c])
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        if row_labels:
            axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path)


def stages_side_by_side(stages):
    """{size: uint8 [N, s, s, 3]} -> uint8 [N·S, L, L, 3]: every image's stages next to each
    other (smaller ones enlarged by pixel repetition to the largest size L)."""
    largest = max(stages)
    enlarged = [
        np.repeat(np.repeat(stages[s], largest // s, axis=1), largest // s, axis=2)
        for s in sorted(stages)
    ]
    return np.stack(enlarged, axis=1).reshape((-1, largest, largest, 3))


def save_attention_maps(images, maps, words, path, title=None):
    """AttnGAN's figure: each image, then each word's attention over it.

    images uint8 [N, H, W, 3]; maps [N, T, h, w] (one attention stage of
    `generate(..., return_attention=True)`); words: N lists of the words each caption was read
    as (padding has no map). Each map is enlarged to the image, stretched to [0, 1] between its
    own minimum and maximum (as the authors draw it) and laid over a dimmed copy of the image.
    """
    images, maps = np.asarray(images), np.asarray(maps)
    cols = 1 + max(len(w) for w in words)
    fig, axes = _figure(len(images), cols, figsize=(1.3 * cols, 1.4 * len(images)), squeeze=False)
    for r, (image, image_maps, caption_words) in enumerate(zip(images, maps, words)):
        scale = image.shape[0] // image_maps.shape[-2]
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if c > len(caption_words):
                ax.axis("off")
        axes[r, 0].imshow(image)
        for t, word in enumerate(caption_words):
            heat = np.repeat(np.repeat(image_maps[t], scale, axis=0), scale, axis=1)
            axes[r, t + 1].imshow((image * 0.4).astype(np.uint8))
            heat = (heat - heat.min()) / max(heat.max() - heat.min(), 1e-12)
            axes[r, t + 1].imshow(heat, cmap="jet", alpha=0.55, vmin=0, vmax=1)
            axes[r, t + 1].set_title(word, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path)


def save_loss_plot(history, path, title=None):
    """Plots each logged term against the training step it was logged at: the discriminator's
    (`d_*`) in one panel, the rest (generator, KL, DAMSM, ...) in another."""
    steps = history["step"]
    d_terms = [n for n in history if n.startswith("d_")]
    others = [n for n in history if n != "step" and n not in d_terms]
    panels = [
        (label, group)
        for label, group in (
            ("discriminator", d_terms),
            ("generator" if d_terms else "loss", others),
        )
        if group
    ]
    fig, axes = _figure(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, (label, group) in zip(axes[0], panels):
        for name in group:
            values = history[
                name
            ]  # a term first logged later (a run resumed by a newer version) is shorter
            ax.plot(
                steps[len(steps) - len(values) :],
                values,
                label=name,
                linewidth=1,
                marker="o" if len(steps) < 20 else None,
            )
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save_figure(fig, path)


def save_metric_curves(history, path, x="epoch"):
    """One small panel per metric (their scales differ), each against `history[x]`."""
    names = [n for n in history if n != x]
    fig, axes = _figure(1, len(names), figsize=(3.2 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.plot(history[x], history[name], marker="o", linewidth=1)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(x)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save_figure(fig, path)


def save_sweep_curves(curves, names, path, title=None):
    """A panel per measure in `names`, a colour per setting and a line per seed, from
    `curves` {setting: [each seed's per-epoch history]}: the spread within one colour is the
    run-to-run instability, the gap between colours the setting's effect."""
    import math

    names = [n for n in names if any(n in h for runs in curves.values() for h in runs)]
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = _figure(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for i, (label, runs) in enumerate(curves.items()):
            for j, history in enumerate(runs):
                points = [(e, v) for e, v in enumerate(history.get(name, []), 1) if v is not None]
                ax.plot(
                    [e for e, _ in points],
                    [v for _, v in points],
                    color=f"C{i % 10}",
                    alpha=0.8,
                    linewidth=1.2,
                    label=label if j == 0 else None,
                )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.grid(alpha=0.3)
    spare = list(axes.flat)[len(names) :]
    for ax in spare:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    bottom = 0.0
    if spare:  # the legend in the first empty panel, else under the panels
        spare[0].legend(handles, labels, loc="center", fontsize=7, frameon=False)
    else:
        fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7, frameon=False)
        bottom = 0.05 * math.ceil(len(labels) / 2)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    _save_figure(fig, path)


def _save_figure(fig, path):
    """A PNG written atomically, so a reader never sees half of one."""
    with atomic_file(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
