"""`evaluate`: every metric a run asks for, in one report (dict, JSON and a Markdown table)."""

import os

import numpy as np

from gan_zoo.data.validation import check_images
from gan_zoo.metrics import shapes_metrics
from gan_zoo.metrics.clipscore import CLIP, W, clip_score
from gan_zoo.metrics.gaussian import frechet_distance
from gan_zoo.metrics.inception_score import inception_score
from gan_zoo.metrics.kernel import kernel_inception_distance
from gan_zoo.metrics.retrieval import r_precision
from gan_zoo.text.vocabulary import first_caption
from gan_zoo.utils.progress import batch_starts

METRICS = ("fid", "kid", "is", "r_precision", "clipscore", "alignment", "diversity")
SHAPES_ONLY = ("alignment", "diversity")


def _measure_generated(
    model, prompts, seed, batch_size, extractor, damsm, clip, verbose, truncation=None
):
    """One image per prompt, drawn a batch at a time and measured at once, so that only the
    measurements are kept (30,000 images at 256 px would take 5.9 GB): {"features",
    "probabilities" (where the extractor has them), "embeddings" (the DAMSM's), "clip" (CLIP's
    image embeddings)}."""
    parts = {}
    for start in batch_starts(len(prompts), batch_size, verbose):
        drawn = {} if truncation is None else {"truncation": truncation}  # any `generate`
        fake = model.generate(prompts[start : start + batch_size], seed=seed + start, **drawn)
        measured = dict(extractor(fake, batch_size=len(fake))) if extractor is not None else {}
        if damsm is not None:
            measured["embeddings"] = damsm.embed_images(fake)
        if clip is not None:
            measured["clip"] = clip.embed_images(fake)
        for name, values in measured.items():
            parts.setdefault(name, []).append(values)
    return {name: np.concatenate(values) for name, values in parts.items()}


def evaluate(
    model,
    dataset,
    metrics=("fid", "kid"),
    num_samples=30000,
    feature_extractor=None,
    inception_weights=None,
    seed=0,
    batch_size=64,
    shapes_options=None,
    damsm=None,
    clip=None,
    truncation="authors",
    verbose=True,
):
    """Measures `model` against `dataset` = {"images": uint8 [N, S, S, 3], "captions": [[str]]}
    and optionally "labels" [N] (classes, which R-precision draws no mismatched caption from).

    metrics: any of fid, kid, is (Inception Score), r_precision (needs `damsm`, or the model's
    own `model.damsm` as AttnGAN has: anything with `embed_images(uint8 images)` and
    `embed_captions(strings)` -> [N, D], such as a trained `gan_zoo.DAMSM`), clipscore (needs
    `clip`: a keras-hub CLIP preset handle or local directory, or a `metrics.CLIP`; reported
    beside the CLIPScore of the real images with the same captions), alignment and
    diversity (the last two on captioned shapes, with `shapes_options` = shapes.load's
    `fixed`/`holdout`).
    Features come from `feature_extractor`, else InceptionV3 with `inception_weights`.
    `truncation`: the noise the images are drawn from: "authors" (the default) samples as the
    model's authors evaluate (DF-GAN: truncated at 0.88, the others: untruncated), None
    untruncated, a number as `generate(truncation=)` takes it.
    Returns a dict: each metric's numbers plus "protocol" (sample count, features, resize).
    """
    if truncation == "authors":
        truncation = getattr(model, "evaluation_truncation", None)
    metrics = [m.lower() for m in metrics]
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ValueError(f"Unknown metric(s) {unknown}; choose from {', '.join(METRICS)}.")
    damsm = damsm if damsm is not None else getattr(model, "damsm", None)
    if "r_precision" in metrics and damsm is None:
        raise ValueError(
            "R-precision needs a DAMSM (text and image encoders trained together): "
            "pass damsm= (a trained gan_zoo.DAMSM; CLI: --damsm) or evaluate an AttnGAN, "
            "which carries its own. metrics.r_precision(image_embeddings, "
            "text_embeddings) scores embeddings from any encoder pair."
        )
    if "r_precision" in metrics and num_samples <= 99:
        raise ValueError(
            "R-precision ranks each image's caption among 99 others: use "
            "num_samples >= 100 (the papers use 30,000)."
        )
    if "clipscore" in metrics:
        if clip is None:
            raise ValueError(
                "CLIPScore needs a CLIP model: pass clip= (a keras-hub CLIP preset name such as "
                "clip_vit_base_patch32, a kaggle:// or hf:// handle, or a local preset "
                "directory; CLI: --clip)."
            )
        clip = CLIP.from_preset(clip) if isinstance(clip, (str, os.PathLike)) else clip
        real_captioned = check_images(dataset["images"])  # checked before the drawing
    options = dict(shapes_options or {})
    needs_features = [m for m in metrics if m in ("fid", "kid", "is", "diversity")]
    extractor = None
    if needs_features:
        if feature_extractor is None:
            from gan_zoo.metrics.features import inception_v3

            feature_extractor = inception_v3(inception_weights)
        extractor = feature_extractor
    if "is" in metrics:
        extractor.require_probabilities()
    report = {
        "protocol": {
            "num_samples": num_samples,
            "seed": seed,
            "truncation": truncation,
            "features": extractor.name if extractor else None,
            "comparable_with_papers": bool(extractor and extractor.comparable_with_papers),
            "resize": _resize_protocol(extractor),
        }
    }
    by_features = [m for m in metrics if m in ("fid", "kid", "is")]
    against_real = bool({"fid", "kid"} & set(metrics))
    if against_real:  # checked before hours of drawing, not after
        real = check_images(dataset["images"])[:num_samples]
        report["protocol"]["num_real"] = len(real)
    if by_features or {"r_precision", "clipscore"} & set(metrics):
        prompts = every_caption(dataset["captions"], num_samples)
        if verbose:
            print(
                f"Drawing and measuring {num_samples} images"
                + (f" ({extractor.name})" if by_features else "")
            )
        fake = _measure_generated(
            model,
            prompts,
            seed,
            batch_size,
            extractor if by_features else None,
            damsm if "r_precision" in metrics else None,
            clip if "clipscore" in metrics else None,
            verbose,
            truncation,
        )
    if "r_precision" in metrics:
        sources = np.arange(num_samples) % len(dataset["captions"])  # prompt k is of image k mod N
        labels = dataset.get("labels")
        report["r_precision"], report["r_precision_std"] = r_precision(
            fake["embeddings"],
            damsm.embed_captions(prompts),
            seed=seed,
            caption_ids=prompts,
            labels=sources if labels is None else np.asarray(labels)[sources],
        )
    if "clipscore" in metrics:
        sources = np.arange(num_samples) % len(dataset["captions"])  # prompt k: image k mod N
        if verbose:
            print(f"Measuring {min(len(real_captioned), num_samples)} real images ({clip.name})")
        real_embeddings = clip.embed_images(real_captioned[:num_samples], batch_size)
        texts = clip.embed_captions(prompts)
        report["clipscore"], report["clipscore_se"] = clip_score(fake["clip"], texts)
        report["clipscore_real"], report["clipscore_real_se"] = clip_score(
            real_embeddings[sources], texts
        )
        report["protocol"]["clip"] = clip.name
    if against_real:
        if verbose:
            print(f"Measuring {len(real)} real images ({extractor.name})")
        real_features = extractor(real, verbose=verbose)["features"]
        if "fid" in metrics:
            report["fid"] = frechet_distance(real_features, fake["features"])
        if "kid" in metrics:
            report["kid"], report["kid_std"] = kernel_inception_distance(
                real_features, fake["features"], seed=seed
            )
    if "is" in metrics:
        report["is"], report["is_std"] = inception_score(fake["probabilities"])
    if "alignment" in metrics:
        report["alignment"] = shapes_metrics.alignment(
            model, num_samples=min(num_samples, 1000), seed=seed, **options
        )
        report["coverage"] = shapes_metrics.coverage(model, seed=seed)
    if "diversity" in metrics:
        report["diversity"] = shapes_metrics.diversity(
            model, extractor, seed=seed, fixed=options.get("fixed")
        )
    return report


def every_caption(captions, count):
    """`count` prompts that go through every image's captions in turn: image i's first caption,
    then (after every image) its second, and so on, as the papers draw samples from all the
    test captions."""
    lists = [[entry] if isinstance(entry, (str, bytes)) else list(entry) for entry in captions]
    empty = next((i for i, entry in enumerate(lists) if not entry), None)
    if empty is not None:
        raise ValueError(f"Image {empty} has no caption to prompt the model with.")
    return [
        first_caption(lists[k % len(lists)][(k // len(lists)) % len(lists[k % len(lists)])])
        for k in range(count)
    ]


def _resize_protocol(extractor):
    """How images reach the feature network, for the report."""
    if extractor is None:
        return None
    smooth = "antialiased" if extractor.antialias else "not antialiased"
    return f"{extractor.interpolation}, {smooth}, float (no re-quantisation)"


def markdown_table(report):
    """The report's headline numbers as a Markdown table."""
    rows = []
    if "fid" in report:
        rows.append(("FID", f"{report['fid']:.3f}"))
    if "kid" in report:
        rows.append(("KID", f"{report['kid']:.5f} ± {report['kid_std']:.5f}"))
    if "r_precision" in report:
        rows.append(
            (
                "R-precision (R@1, 1 vs 99)",
                f"{report['r_precision']:.1%} ± {report['r_precision_std']:.1%}",
            )
        )
    if "clipscore" in report:
        rows.append(
            (
                f"CLIPScore (w = {W}, {report['protocol']['clip']}; ± s.e.)",
                f"{report['clipscore']:.4f} ± {report['clipscore_se']:.4f} (real images "
                f"{report['clipscore_real']:.4f} ± {report['clipscore_real_se']:.4f})",
            )
        )
    if "is" in report:
        rows.append(("Inception Score", f"{report['is']:.3f} ± {report['is_std']:.3f}"))
    if "alignment" in report:
        a = report["alignment"]
        rows.append(
            (
                "Caption alignment (shapes oracle)",
                f"{a['alignment']:.1%} (real images {a['real']['alignment']:.1%}, "
                f"chance {a['chance']:.1%})",
            )
        )
        for name, value in a["accuracy"].items():
            rows.append(
                (f"  {name} accuracy", f"{value:.1%} (real {a['real']['accuracy'][name]:.1%})")
            )
        rows.append(("Mode coverage (shape × colour)", f"{report['coverage']['coverage']:.1%}"))
    if "diversity" in report:
        d = report["diversity"]
        flag = " — COLLAPSED" if d["collapsed"] else ""
        rows.append(("Diversity (spread vs real)", f"{d['spread_ratio']:.3f}{flag}"))
    p = report["protocol"]
    lines = ["| Metric | Value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    lines.append("")
    features = f"; features: {p['features']}; resize: {p['resize']}" if p["features"] else ""
    real = f" against {p['num_real']} real images" if "num_real" in p else ""
    lines.append(
        f"{p['num_samples']} samples{real}{features}"
        + (
            ""
            if p["comparable_with_papers"] or not p["features"]
            else "; not comparable with the papers' numbers"
        )
    )
    return "\n".join(lines)
