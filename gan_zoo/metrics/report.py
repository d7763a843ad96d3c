"""`evaluate`: every metric a run asks for, in one report (dict, JSON and a Markdown table)."""

import keras
import numpy as np

from gan_zoo.data.validation import check_images
from gan_zoo.metrics import shapes_metrics
from gan_zoo.metrics.retrieval import r_precision
from gan_zoo.metrics.gaussian import frechet_distance
from gan_zoo.metrics.inception_score import inception_score
from gan_zoo.metrics.kernel import kernel_inception_distance
from gan_zoo.text.vocabulary import first_caption

METRICS = ("fid", "kid", "is", "r_precision", "alignment", "diversity")
SHAPES_ONLY = ("alignment", "diversity")


def _generated(model, prompts, seed, batch_size, verbose):
    """One image per prompt, in batches, with a progress bar."""
    bar = keras.utils.Progbar(len(prompts), unit_name="image") if verbose else None
    chunks = []
    for start in range(0, len(prompts), batch_size):
        chunks.append(model.generate(prompts[start:start + batch_size], seed=seed + start))
        if bar:
            bar.update(start + len(chunks[-1]))
    return np.concatenate(chunks)


def evaluate(model, dataset, metrics=("fid", "kid"), num_samples=30000, feature_extractor=None,
             inception_weights=None, seed=0, batch_size=64, shapes_options=None, damsm=None,
             verbose=True):
    """Measures `model` against `dataset` = {"images": uint8 [N, S, S, 3], "captions": [[str]]}.

    metrics: any of fid, kid, is (Inception Score), r_precision (needs `damsm`, or the model's
    own `model.damsm` as AttnGAN has: anything with `embed_images(uint8 images)` and
    `embed_captions(strings)` -> [N, D], such as a trained `gan_zoo.DAMSM`), alignment and
    diversity (the last two on captioned shapes, with `shapes_options` = shapes.load's
    `fixed`/`holdout`).
    Features come from `feature_extractor`, else InceptionV3 with `inception_weights`.
    Returns a dict: each metric's numbers plus "protocol" (sample count, features, resize).
    """
    metrics = [m.lower() for m in metrics]
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ValueError(f"Unknown metric(s) {unknown}; choose from {', '.join(METRICS)}.")
    damsm = damsm if damsm is not None else getattr(model, "damsm", None)
    if "r_precision" in metrics and damsm is None:
        raise ValueError("R-precision needs a DAMSM (text and image encoders trained together): "
                         "pass damsm= (a trained gan_zoo.DAMSM; CLI: --damsm) or evaluate an AttnGAN, "
                         "which carries its own. metrics.r_precision(image_embeddings, "
                         "text_embeddings) scores embeddings from any encoder pair.")
    if "r_precision" in metrics and num_samples <= 99:
        raise ValueError("R-precision ranks each image's caption among 99 others: use "
                         "num_samples >= 100 (the papers use 30,000).")
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
    report = {"protocol": {"num_samples": num_samples, "seed": seed,
                           "features": extractor.name if extractor else None,
                           "comparable_with_papers": bool(extractor and extractor.comparable_with_papers),
                           "resize": _resize_protocol(extractor)}}
    distribution = [m for m in metrics if m in ("fid", "kid", "is", "r_precision")]
    if distribution:
        real = check_images(dataset["images"])[:num_samples]
        prompts = every_caption(dataset["captions"], num_samples)
        fake = _generated(model, prompts, seed, batch_size, verbose)
    if "r_precision" in metrics:
        report["r_precision"], report["r_precision_std"] = r_precision(
            damsm.embed_images(fake), damsm.embed_captions(prompts), seed=seed, caption_ids=prompts)
    if [m for m in distribution if m != "r_precision"]:
        if verbose:
            print(f"Features of {len(real)} real and {len(fake)} generated images ({extractor.name})")
        real_features = extractor(real)["features"] if {"fid", "kid"} & set(metrics) else None
        fake_out = extractor(fake)
        if "fid" in metrics:
            report["fid"] = frechet_distance(real_features, fake_out["features"])
        if "kid" in metrics:
            report["kid"], report["kid_std"] = kernel_inception_distance(
                real_features, fake_out["features"], seed=seed)
        if "is" in metrics:
            report["is"], report["is_std"] = inception_score(fake_out["probabilities"])
    if "alignment" in metrics:
        report["alignment"] = shapes_metrics.alignment(model, num_samples=min(num_samples, 1000),
                                                       seed=seed, **options)
        report["coverage"] = shapes_metrics.coverage(model, seed=seed)
    if "diversity" in metrics:
        report["diversity"] = shapes_metrics.diversity(model, extractor, seed=seed,
                                                       fixed=options.get("fixed"))
    return report


def every_caption(captions, count):
    """`count` prompts that go through every image's captions in turn: image i's first caption,
    then (after every image) its second, and so on, as the papers draw samples from all the
    test captions."""
    lists = [[entry] if isinstance(entry, (str, bytes)) else list(entry) for entry in captions]
    return [first_caption(lists[k % len(lists)][(k // len(lists)) % len(lists[k % len(lists)])])
            for k in range(count)]


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
        rows.append(("R-precision (R@1, 1 vs 99)", f"{report['r_precision']:.1%} ± {report['r_precision_std']:.1%}"))
    if "is" in report:
        rows.append(("Inception Score", f"{report['is']:.3f} ± {report['is_std']:.3f}"))
    if "alignment" in report:
        a = report["alignment"]
        rows.append(("Caption alignment (shapes oracle)",
                     f"{a['alignment']:.1%} (real images {a['real']['alignment']:.1%}, chance {a['chance']:.1%})"))
        for name, value in a["accuracy"].items():
            rows.append((f"  {name} accuracy", f"{value:.1%} (real {a['real']['accuracy'][name]:.1%})"))
        rows.append(("Mode coverage (shape × colour)", f"{report['coverage']['coverage']:.1%}"))
    if "diversity" in report:
        d = report["diversity"]
        flag = " — COLLAPSED" if d["collapsed"] else ""
        rows.append(("Diversity (spread vs real)", f"{d['spread_ratio']:.3f}{flag}"))
    p = report["protocol"]
    lines = ["| Metric | Value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    lines.append("")
    features = f"; features: {p['features']}; resize: {p['resize']}" if p["features"] else ""
    lines.append(f"{p['num_samples']} samples{features}"
                 + ("" if p["comparable_with_papers"] or not p["features"] else
                    "; not comparable with the papers' numbers"))
    return "\n".join(lines)
