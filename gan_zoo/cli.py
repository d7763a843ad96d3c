"""The `gan-zoo` command line: train, sweep, generate, evaluate, convert.

The parser is built from the standard library alone, and each subcommand imports Keras, its
backend and the models when it runs: `gan-zoo --help` answers at once instead of after the
seconds TensorFlow takes to load.
"""

import argparse
import contextlib
import errno
import functools
import json
import math
import os
import re
import sys
import tempfile

MODELS = {
    "dcgan-cls": "DCGANCLS",
    "stackgan": "StackGAN",
    "attngan": "AttnGAN",
    "dfgan": "DFGAN",
    "damsm": "DAMSM",
}
DATASETS = {
    "cub": "AttnGAN's data/birds layout",
    "flowers": "StackGAN's Data/flowers layout",
    "coco": "AttnGAN's or the official 2014 (else 2017) layout",
    "tfds_coco": "a data_dir holding tensorflow-datasets' prepared coco_captions",
    "folder": "images with same-name .txt captions, or a CSV/JSONL manifest",
}
SAMPLE_CAPTIONS = [
    "a small red circle on the left",
    "a big blue square at the top",
    "a yellow triangle in the middle",
    "a big green circle at the bottom",
    "a small purple square on the right",
    "a cyan triangle on the right",
]


def _train(args):
    import keras

    from gan_zoo import callbacks
    from gan_zoo.data import make_dataset
    from gan_zoo.utils.files import save_model_atomically, write_json_atomically

    if args.model == "damsm" and (args.preset or args.set):
        raise SystemExit(
            "--preset and --set are GAN options; a DAMSM takes --image-encoder "
            "(small or inception_v3) and --inception-weights."
        )
    _check_writable(args.out, folder=True)
    args = _open_run(args)
    out = args.out
    keras.utils.set_random_seed(args.seed)
    fixed = _parse_fixed(args.fix)
    base = _base_model(args)  # the trained model this one builds on: a Stage-I or a DAMSM
    checkpoint = callbacks.Checkpoint(os.path.join(out, "checkpoints"))  # last: it keeps every log
    resumed, _ = checkpoint.latest()
    # A resumed run rebuilds the model its checkpoint holds: a preset's defaults may have changed.
    model = _load_model(resumed, "resume training") if resumed else None
    if model is None and args.model == "attngan":  # its image size follows from its stages
        model = _new_model(args, base, None, args.image_size)
    hub = _hub_text_encoder(args.hub_text_encoder) if model is None else None
    image_size = model.image_size if model is not None else args.image_size
    image_size = image_size or _default_image_size(args, base)
    images, captions, labels = _dataset(args, "train", image_size, fixed, args.num_images)
    if args.hub_text_encoder:  # its own tokenizer reads the captions: no vocabulary.json
        vocab = (hub if model is None else model).vocabulary
    else:
        vocab = _vocabulary(args, base, captions)
    model = model or _new_model(args, base, vocab, image_size, hub)
    model.compile()
    prompts = SAMPLE_CAPTIONS if args.data == "shapes" else [c[0] for c in captions[:6]]
    _keep_earlier_history(checkpoint, os.path.join(out, "metrics.json"))
    model.fit(
        make_dataset(
            images, captions, vocab, batch_size=args.batch_size, seed=args.seed, labels=labels
        ),
        epochs=args.epochs,
        callbacks=[*_run_callbacks(args, images, captions, prompts, fixed), checkpoint],
    )
    save_model_atomically(model, os.path.join(out, "model.keras"))
    metrics = {"history": checkpoint.history()}  # every epoch, also of a run resumed after a kill
    written = ["model.keras", "losses.png", "metrics.json"] + _final_measures(
        args, model, prompts, fixed, image_size, metrics
    )
    write_json_atomically(metrics, os.path.join(out, "metrics.json"))
    print("Wrote " + ", ".join(f"{out}/{name}" for name in written))


# What a resumed run takes from the command line rather than from its saved run.json.
RESUME_FROM_COMMAND_LINE = ("out", "epochs")


def _keep_earlier_history(checkpoint, metrics_path):
    """A run checkpointed before state.json kept every epoch's logs has them in metrics.json
    only: they move into state.json, so that the run's history stays whole."""
    from gan_zoo.utils.files import write_json_atomically

    if not (os.path.exists(checkpoint.state_path) and os.path.exists(metrics_path)):
        return
    with open(checkpoint.state_path) as f:
        state = json.load(f)
    if "history" not in state:
        with open(metrics_path) as f:
            state["history"] = json.load(f)["history"]
        write_json_atomically(state, checkpoint.state_path)


def _open_run(args):
    """Refuses to overwrite a run without --resume; with it, takes the run's saved options
    (all but --out and --epochs) and names any given option that differs from them."""
    from gan_zoo.callbacks import Checkpoint
    from gan_zoo.utils.files import write_json_atomically

    run_path = os.path.join(args.out, "run.json")
    if (
        Checkpoint(os.path.join(args.out, "checkpoints")).latest()[0] is not None
        and not args.resume
    ):
        raise SystemExit(
            f"{args.out} already holds a training run: pass --resume to continue it, or "
            "choose another --out (nothing is overwritten)."
        )
    if args.resume and os.path.exists(run_path):
        with open(run_path) as f:
            saved = {k: v for k, v in json.load(f).items() if k not in RESUME_FROM_COMMAND_LINE}
        defaults = vars(build_parser().parse_args(["train"]))
        ignored = [
            f"{_flag(k)} {v}"
            for k, v in vars(args).items()
            if k in saved
            and k in defaults
            and v != saved[k]
            and (v != defaults[k] or _given(args, k))
        ]
        if ignored:
            print(
                f"Resuming {args.out} with the options it was started with; ignoring "
                + ", ".join(ignored)
                + f" (see {run_path})."
            )
        args = argparse.Namespace(**{**vars(args), **saved, "resume": True})
    _refuse_other_models_options(args)  # before anything is written
    write_json_atomically(
        {k: v for k, v in vars(args).items() if k not in ("func", "resume", "given")}, run_path
    )
    return args


def _flag(dest):
    """The option that sets `dest` (batch_size -> --batch-size)."""
    return "--" + dest.replace("_", "-")


def _given(args, dest):
    """Whether the command line set `dest`: its option in full, or abbreviated as argparse
    allows (a prefix of that option alone, --stage being another option than --stage1)."""
    flags = {_flag(name) for name in vars(args)}
    return any(
        token == _flag(dest)
        or (token not in flags and [f for f in flags if f.startswith(token)] == [_flag(dest)])
        for token in getattr(args, "given", ())
    )


def _vocabulary(args, base, captions):
    """The base model's vocabulary, a resumed run's, or one built from the captions; saved."""
    from gan_zoo import Vocabulary

    path = os.path.join(args.out, "vocabulary.json")
    if base is not None:
        vocab = base.vocabulary
    elif args.resume and os.path.exists(path):
        vocab = Vocabulary.load(path)
    else:
        vocab = Vocabulary.build(captions)
    vocab.save(path)
    return vocab


def _hub_text_encoder(handle):
    """The `HubTextEncoder` of --hub-text-encoder (None without it), loaded before the data so
    that a handle that cannot be loaded is named at once; keras-hub is imported only then."""
    if not handle:
        return None
    from gan_zoo.text import HubTextEncoder

    return HubTextEncoder(handle)


def _default_image_size(args, base):
    """64 px; a Stage-II 4x its Stage-I; a DF-GAN its preset's (the authors' 256, small 32)."""
    if args.model == "stackgan" and args.stage == 2 and base:
        return 4 * base.image_size
    if args.model == "dfgan":
        from gan_zoo.models.dfgan import PRESETS

        return PRESETS.get(args.preset or "birds", PRESETS["birds"])["image_size"]
    return 64


def _new_model(args, base, vocab, image_size, hub=None):
    """A new model of --model, reading captions with `hub` (a `HubTextEncoder`) where given,
    else with a text encoder of its own on `vocab`, or with its base model's."""
    import gan_zoo
    from gan_zoo.models.damsm import frozen_text_arguments
    from gan_zoo.sweep import parse_setting

    model_cls = getattr(gan_zoo, MODELS[args.model])
    text = {"text_encoder": hub} if hub is not None else {"vocabulary": vocab}
    if args.model == "damsm":
        return model_cls(
            **text,
            image_encoder=args.image_encoder,
            inception_weights=args.inception_weights,
            image_size=image_size,
            seed=args.seed,
        )
    build = functools.partial(model_cls.from_preset, args.preset) if args.preset else model_cls
    options = {"seed": args.seed, **dict(parse_setting(item) for item in args.set or ())}
    if "recipe" in options and not args.preset:
        raise SystemExit(
            "recipe= applies over a preset's settings: add --preset (e.g. --preset small)."
        )
    if args.model == "attngan":
        return build(damsm=base, image_size=image_size, **options)
    # The papers read captions with a pretrained, fixed text embedding (char-CNN-RNN); a --set
    # of what the DAMSM fixes (text_encoder=, max_length=, ...) is refused by name. DCGAN-cls
    # keeps the whole DAMSM, whose image encoder its damsm_weight option uses.
    if args.model == "dcgan-cls" and args.damsm:
        text = {"damsm": base}
    if args.model == "stackgan" and args.damsm:
        text, options = {}, frozen_text_arguments(base, None, options, MODELS[args.model])[1]
    if args.model == "dfgan":  # reads captions with its DAMSM's encoder, a hub one, or its own
        reader = base.text_encoder if base else hub
        if reader is not None:  # its sentence width is the only one the vectors fit
            options = {"sentence_dim": reader.output_dim, **options}
        return build(image_size=image_size, **({"damsm": base} if base else text), **options)
    if args.model == "stackgan":
        return build(
            image_size=image_size,
            stage=args.stage,
            **({"stage1": base} if args.stage == 2 else text),
            **options,
        )
    return build(image_size=image_size, **text, **options)


def _run_callbacks(args, images, captions, prompts, fixed):
    """Loss plot; for GANs sample grids (AttnGAN: attention maps) and, on shapes, the quality
    monitor, which reads shapes back with the shapes oracle."""
    from gan_zoo import callbacks

    out = args.out
    extra = [callbacks.LossPlot(os.path.join(out, "losses.png"))]
    if args.model == "damsm":
        return extra
    if args.data == "shapes":
        extra.append(
            callbacks.QualityMonitor(
                images,
                captions,
                os.path.join(out, "quality.png"),
                every=args.monitor_every,
                seed=args.seed,
                shapes_options={"fixed": fixed},
            )
        )
    extra.append(callbacks.SampleGrid(prompts, os.path.join(out, "samples")))
    if args.model == "attngan":
        extra.append(callbacks.AttentionMaps(prompts[:3], os.path.join(out, "attention")))
    return extra


def _final_measures(args, model, prompts, fixed, image_size, metrics):
    """The final sample grid and, on shapes, alignment (GANs) or R-precision (DAMSM), into
    `metrics` and printed; returns the names of the files written."""
    from gan_zoo.data import shapes
    from gan_zoo.metrics import shapes_metrics
    from gan_zoo.utils.plots import save_image_grid, stages_side_by_side

    written = []
    if args.model != "damsm":
        stages = model.generate(prompts, seed=0, num_per_caption=6, return_stages=True)
        save_image_grid(
            stages_side_by_side(stages), os.path.join(args.out, "samples.png"), row_labels=prompts
        )
        written.append("samples.png")
    if args.data != "shapes":
        return written
    if args.model == "damsm":
        images, captions, attributes = shapes.load(
            "test", max(args.eval_samples, 100), image_size, seed=args.seed + 1, fixed=fixed
        )
        labels = _shapes_labels(attributes)  # mismatches of another shape or colour
        mean, std = model.r_precision(images, [c[0] for c in captions], labels=labels)
        metrics["r_precision"] = {"mean": mean, "std": std, "num_samples": len(images)}
        print(f"R-precision on {len(images)} held-out shapes: {mean:.1%} ± {std:.1%} (chance 1%)")
        return written
    print("Measuring caption alignment on held-out test captions ...")
    a = metrics["alignment"] = shapes_metrics.alignment(
        model, num_samples=args.eval_samples, fixed=fixed
    )
    print(
        f"Caption alignment (shape and colour right) on {a['num_samples']} held-out captions: "
        f"{a['alignment']:.1%} (chance {a['chance']:.1%}); per attribute: "
        + ", ".join(f"{k} {v:.1%}" for k, v in a["accuracy"].items())
    )
    return written + ["quality.png"]


def _shapes_labels(attributes):
    """Shapes' (shape, colour) classes, or None where every image has one class (`--fix
    shape=... --fix colour=...`): one class would leave no image a mismatch of any other."""
    from gan_zoo.data import shapes

    labels = shapes.class_labels(attributes)
    return labels if len(set(labels.tolist())) > 1 else None


def _dataset(args, split, image_size, fixed, num_shapes):
    """(images, captions, labels) of a split of --data: shapes (`num_shapes` of them, labelled
    by their (shape, colour) class) or DATASET:PATH (see DATASETS); a folder has no splits and
    is read whole."""
    from gan_zoo import data

    kind, _, path = args.data.partition(":")
    if kind == "shapes":
        images, captions, attributes = data.shapes.load(
            split, num_shapes, image_size, seed=args.seed, fixed=fixed, verbose=True
        )
        return images, captions, _shapes_labels(attributes)
    if kind not in DATASETS or not path:
        raise SystemExit(
            f"Unknown --data {args.data!r}: use shapes or "
            + ", ".join(f"{name}:PATH ({layout})" for name, layout in DATASETS.items())
            + "."
        )
    loader = getattr(data, kind).load
    if kind == "folder":  # a folder of images, or a manifest file listing them
        source = {"manifest" if os.path.isfile(os.path.expanduser(path)) else "root": path}
        loaded = loader(**source, image_size=image_size, cache=args.cache)
    else:
        loaded = loader(path, split, image_size, cache=args.cache)
    print(f"Loaded {loaded.summary()} from {path}")
    return loaded.images, loaded.captions, loaded.labels


def _refuse_other_models_options(args):
    """--stage1 and --damsm name what StackGAN Stage-II and AttnGAN (or another GAN) build on;
    elsewhere they would be ignored, so they are refused. A model that reads captions with
    such a base model's encoder refuses --hub-text-encoder, which would be ignored too."""
    if args.stage1 and not (args.model == "stackgan" and args.stage == 2):
        raise SystemExit(
            "--stage1 is the Stage-I a StackGAN --stage 2 builds on; this run trains "
            f"--model {args.model}" + (" --stage 1." if args.model == "stackgan" else ".")
        )
    stage2 = args.model == "stackgan" and args.stage == 2
    if args.damsm and (stage2 or args.model == "damsm"):
        raise SystemExit(
            "--damsm is the pretrained text-image encoder an AttnGAN builds on, and whose "
            "frozen text encoder DCGAN-cls, StackGAN Stage-I and DF-GAN can read captions with; "
            + ("a Stage-II reads them with its Stage-I's." if stage2 else "a DAMSM trains its own.")
        )
    if args.hub_text_encoder and (stage2 or args.model == "attngan" or args.damsm):
        base = "--stage1" if stage2 else "--damsm"
        raise SystemExit(
            f"--hub-text-encoder: this --model {args.model} reads captions with the text "
            f"encoder of its {base} model; give --hub-text-encoder to the run that trains that."
        )


def _base_model(args):
    """The trained model a run builds on: Stage-I for StackGAN --stage 2, the DAMSM for AttnGAN
    (and for a DCGAN-cls, Stage-I or DF-GAN given one)."""
    if args.model == "stackgan" and args.stage == 2:
        if not args.stage1:
            raise SystemExit(
                "--stage 2 needs --stage1, a trained Stage-I .keras file or run directory."
            )
        return _load_model(args.stage1, "train a Stage-II on it")
    if args.model == "attngan":
        if not args.damsm:
            raise SystemExit(
                "--model attngan needs --damsm, a trained DAMSM .keras file or run "
                "directory (train one with: gan-zoo train --model damsm)."
            )
        return _load_model(args.damsm, "train an AttnGAN on it")
    if args.damsm:  # DCGAN-cls, Stage-I or DF-GAN: read captions with its frozen encoder
        return _load_model(args.damsm, "read captions with it")
    return None


def _load_model(path, action):
    """The model in a .keras file or a run directory (its model.keras, else its newest
    checkpoint), refused where the file is unreadable or a weight is NaN or infinite.

    Args:
        path: the file or directory.
        action: what the model is loaded for, named where it is refused ("draw images").

    Returns:
        The model.
    """
    from gan_zoo.callbacks import Checkpoint
    from gan_zoo.divergence import check_finite_weights
    from gan_zoo.utils.files import load_model

    if os.path.isdir(path):
        final = os.path.join(path, "model.keras")
        latest, _ = Checkpoint(os.path.join(path, "checkpoints")).latest()
        if not os.path.exists(final) and latest is None:
            raise SystemExit(f"{path} holds no model.keras and no checkpoints.")
        path = final if os.path.exists(final) else latest
    if not os.path.exists(path):
        raise SystemExit(f"No checkpoint at {path}")
    model = load_model(path)
    check_finite_weights(model, action, source=path)
    return model


def _generate(args):
    from gan_zoo import AttnGAN, TextToImageGAN
    from gan_zoo.utils.plots import save_attention_maps, save_image_grid

    _check_writable(args.out)
    if args.attention:
        _check_writable(args.attention, "--attention")
    model = _load_model(args.checkpoint, "draw images")
    if not isinstance(model, TextToImageGAN):
        raise SystemExit(
            f"{args.checkpoint} holds a {type(model).__name__}, which draws no images."
        )
    if args.attention and not isinstance(model, AttnGAN):
        raise SystemExit("--attention needs an AttnGAN checkpoint.")
    with model.averaged_generator():  # a checkpoint of a run cut short: the G it would end with
        images = model.generate(
            args.captions, seed=args.seed, num_per_caption=args.num, truncation=args.truncation
        )
        attention = (
            model.generate(args.captions, seed=args.seed, return_attention=True)
            if args.attention
            else None
        )
    save_image_grid(images, args.out, row_labels=args.captions)
    print(f"Wrote {len(images)} image(s) to {args.out}")
    if attention is not None:
        images, maps = attention
        read = model.vocabulary.decode(model.vocabulary.encode(args.captions, model.max_length))
        save_attention_maps(images, maps[-1], [r.split() for r in read], args.attention)
        print(f"Wrote the words' attention maps to {args.attention}")


def _evaluate(args):
    from gan_zoo import DAMSM, TextToImageGAN, metrics
    from gan_zoo.utils.files import write_json_atomically, write_text_atomically

    if args.out and (os.path.isdir(args.out) or os.path.splitext(args.out)[1].lower() == ".md"):
        raise SystemExit(
            f"--out {args.out}: give the report's .json path (its Markdown table is "
            "written beside it, as .md)."
        )
    if args.out:
        _check_writable(args.out)
    model = _load_model(args.checkpoint, "evaluate it")
    if not isinstance(model, TextToImageGAN):
        raise SystemExit(
            f"{args.checkpoint} holds a {type(model).__name__}, which draws no images to "
            "evaluate (a DAMSM is given to an AttnGAN's evaluation with --damsm)."
        )
    damsm = _load_model(args.damsm, "measure R-precision with it") if args.damsm else None
    if damsm is not None and not isinstance(damsm, DAMSM):
        raise SystemExit(f"--damsm {args.damsm} holds a {type(damsm).__name__}, not a DAMSM.")
    on_shapes = args.data == "shapes"
    metrics_asked = args.metrics or ("fid,kid,alignment,diversity" if on_shapes else "fid,kid")
    names = [m.strip() for m in metrics_asked.split(",") if m.strip()]
    if not on_shapes and {"alignment", "diversity"} & set(names):
        raise SystemExit(
            "alignment and diversity read images back with the shapes oracle: they "
            "need --data shapes (on other data: fid, kid, is, r_precision, clipscore)."
        )
    if "clipscore" in names and not args.clip:
        raise SystemExit(
            "clipscore needs --clip: a keras-hub CLIP preset (clip_vit_base_patch32, "
            "downloaded on first use) or a local directory holding one."
        )
    clip = metrics.CLIP.from_preset(args.clip) if "clipscore" in names else None
    if args.features == "pytorch-fid":
        from gan_zoo.convert import fid_inception_from_pytorch_fid

        if not args.inception_weights:
            raise SystemExit(
                "--features pytorch-fid needs --inception-weights "
                "pt_inception-2015-12-05-6726825d.pth (pytorch-fid's releases)."
            )
        extractor = fid_inception_from_pytorch_fid(args.inception_weights)
    elif args.features == "inception" or args.inception_weights:
        if args.features == "pixels":
            raise SystemExit(
                "--inception-weights are for --features inception or pytorch-fid, not pixels."
            )
        if str(args.inception_weights).endswith((".pth", ".pt")):
            raise SystemExit(
                f"{args.inception_weights} is a PyTorch file: pytorch-fid's network reads it "
                "with --features pytorch-fid "
                "(--features inception takes keras.applications weights)."
            )
        extractor = metrics.inception_v3(args.inception_weights)
    else:
        extractor = metrics.pixels()
    fixed = _parse_fixed(args.fix)
    images, captions, labels = _dataset(args, "test", model.image_size, fixed, args.num_samples)
    with model.averaged_generator():  # a checkpoint of a run cut short: the G it would end with
        report = metrics.evaluate(
            model,
            {"images": images, "captions": captions, "labels": labels},
            metrics=names,
            num_samples=args.num_samples,
            feature_extractor=extractor,
            seed=args.seed,
            shapes_options={"fixed": fixed},
            damsm=damsm,
            clip=clip,
            truncation=args.truncation,
        )
    table = metrics.markdown_table(report)
    print(table)
    if args.out:
        write_json_atomically(report, args.out)
        write_text_atomically(table + "\n", os.path.splitext(args.out)[0] + ".md")
        print(f"Wrote {args.out} and {os.path.splitext(args.out)[0]}.md")


def _convert(args):
    """The authors' PyTorch checkpoint(s) -> a .keras file (written atomically), a keras-hub
    preset directory, or both."""
    from gan_zoo import DAMSM, convert
    from gan_zoo.utils.files import save_model_atomically

    if not (args.out or args.to_preset):
        raise SystemExit("convert writes --out FILE.keras, --to-preset DIRECTORY, or both.")
    if args.out:
        _check_writable(args.out)
    if args.to_preset:
        _check_writable(args.to_preset, "--to-preset", folder=True)
    if args.network == "damsm":
        if not (args.text_encoder and args.image_encoder and args.captions):
            raise SystemExit("convert damsm needs --text-encoder, --image-encoder and --captions.")
        model = convert.damsm_from_authors(args.text_encoder, args.image_encoder, args.captions)
    elif not args.checkpoint:
        raise SystemExit(
            f"convert {args.network} needs the checkpoint .pth file "
            + ("(state_epoch_N.pth)." if args.network == "dfgan" else "(the generator's).")
        )
    elif args.network in ("attngan", "dfgan"):
        if not args.damsm:
            raise SystemExit(
                f"convert {args.network} needs --damsm, the converted DAMSM (.keras or preset)."
            )
        converter = (
            convert.attngan_from_authors
            if args.network == "attngan"
            else convert.dfgan_from_authors
        )
        damsm = (
            DAMSM.from_preset(args.damsm)
            if os.path.isfile(os.path.join(args.damsm, "config.json"))
            else _load_model(args.damsm, f"convert {args.network} on it")
        )
        model = converter(args.checkpoint, damsm, args.preset or "birds")
    else:
        model = convert.stackgan_from_authors(
            args.checkpoint, args.discriminator, args.stage, args.preset or "coco"
        )
    if args.out:
        save_model_atomically(model, args.out)
    if args.to_preset:
        model.save_to_preset(args.to_preset)
    print(
        f"Wrote {' and '.join(filter(None, (args.out, args.to_preset)))}: a "
        f"{type(model).__name__} with the weights of {args.checkpoint or args.text_encoder}"
    )


def _sweep(args):
    """Every grid setting × seed as its own training run, then the summary table and plot."""
    from gan_zoo import sweep
    from gan_zoo.utils.files import write_json_atomically, write_text_atomically

    if args.model == "damsm":
        raise SystemExit("sweep trains GANs; a DAMSM has no adversarial game to destabilise.")
    _check_writable(args.out, folder=True)
    grid = sweep.parse_grid(args.grid)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise SystemExit(
            f"--seeds takes comma-separated integers (e.g. 0,1,2); got {args.seeds!r}"
        ) from None
    clash = set(grid) & {sweep.parse_setting(item)[0] for item in args.set or ()}
    if clash:
        raise SystemExit(f"{', '.join(sorted(clash))}: both swept (--grid) and set (--set).")
    todo = [(setting, seed) for setting in sweep.settings(grid) for seed in seeds]
    for i, (setting, seed) in enumerate(todo, 1):
        folder = sweep.run_folder(args.out, setting, seed)
        if sweep.is_finished(folder, args.epochs):
            print(f"[{i}/{len(todo)}] {folder}: finished earlier")
            continue
        print(f"[{i}/{len(todo)}] {folder}")
        options = [*(args.set or ()), *(f"{k}={json.dumps(v)}" for k, v in setting.items())]
        _train(
            argparse.Namespace(
                **{**vars(args), "out": folder, "seed": seed, "set": options, "resume": True}
            )
        )
    rows = sweep.summarize(args.out, grid, seeds)
    table = sweep.markdown_table(rows)
    write_json_atomically(
        {"grid": grid, "seeds": seeds, "summary": rows}, os.path.join(args.out, "sweep.json")
    )
    write_text_atomically(table + "\n", os.path.join(args.out, "sweep.md"))
    sweep.plot(args.out, grid, seeds, os.path.join(args.out, "sweep.png"))
    print(table)
    print(f"Wrote {args.out}/sweep.json, sweep.md and sweep.png")


def _check_writable(path, option="--out", folder=False):
    """Refuses an output that cannot be written before any work starts, rather than after it,
    and writes nothing: the folder that would hold it, or the nearest one above it that
    exists (the run creates the rest), must be a folder that takes a new file.

    Args:
        path: the output: a folder or a file.
        option: the option that gave it, named in the error.
        folder: whether `path` is a folder.
    """
    if not folder and os.path.isdir(path):
        raise SystemExit(f"{option} {path} is a folder: give the path of the file to write.")
    existing = os.path.abspath(path) if folder else os.path.dirname(os.path.abspath(path))
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise SystemExit(f"{option} {path} cannot be written: {existing} is a file, not a folder.")
    try:
        with tempfile.TemporaryFile(dir=existing):  # os.access misjudges ACLs and root
            pass
    except OSError as error:
        raise SystemExit(
            f"{option} {path} cannot be written: {error.strerror or error} in {existing}. "
            "Give a path in a folder you can write to."
        ) from None


def _number(kind, wanted, valid):
    """An argparse `type`: `kind(text)` where `valid` holds for it, else argparse's error
    naming the option and saying that it takes `wanted`."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not valid(value):
            raise argparse.ArgumentTypeError(f"takes {wanted}; got {text!r}")
        return value

    return parse


def _truncation(text):
    """evaluate's --truncation: "authors", "none" (None), or a number above 0."""
    if text in ("authors", "none"):
        return None if text == "none" else text
    return SCALE(text)


COUNT = _number(int, "a whole number above 0", lambda n: n > 0)
SEED = _number(int, "a whole number from 0 to 2**32 - 1", lambda n: 0 <= n < 2**32)
SCALE = _number(float, "a number above 0", lambda x: math.isfinite(x) and x > 0)


def _parse_fixed(items):
    """["background=black", ...] -> {"background": "black", ...} for shapes.load(fixed=...)."""
    fixed = {}
    for item in items or ():
        name, _, value = item.partition("=")
        if not value:
            raise ValueError(f"--fix takes attribute=value (e.g. background=black); got {item!r}")
        fixed[name] = value
    return fixed


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: ...)" to an option's help where the default is a value: an option
    that is unset (None) or off (False) unless given says in its help what happens then."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _add_training_arguments(parser):
    """The options of one training run, shared by train and sweep."""
    parser.add_argument(
        "--model",
        choices=sorted(MODELS),
        default="dcgan-cls",
        help="dcgan-cls (GAN-INT-CLS), stackgan, attngan, dfgan (DF-GAN), or damsm (the "
        "text-image encoder an AttnGAN builds on)",
    )
    parser.add_argument(
        "--preset",
        help="a named configuration: birds (the defaults), coco or small; without it a "
        "Stage-II takes its widths from its Stage-I",
    )
    parser.add_argument(
        "--data",
        default="shapes",
        help="shapes (built in) or " + ", ".join(f"{k}:PATH" for k in DATASETS),
    )
    parser.add_argument("--cache", help="a .npz file keeping the decoded dataset for the next run")
    parser.add_argument(
        "--fix",
        action="append",
        metavar="ATTR=VALUE",
        help="shapes: hold an attribute fixed, e.g. --fix background=black",
    )
    parser.add_argument(
        "--stage", type=int, choices=(1, 2), default=1, help="stackgan: which stage"
    )
    parser.add_argument(
        "--stage1", help="stackgan --stage 2: the Stage-I .keras file or run directory"
    )
    parser.add_argument(
        "--damsm",
        help="attngan: the pretrained DAMSM .keras file or run directory; dcgan-cls, stackgan "
        "--stage 1, dfgan: optionally, the DAMSM whose frozen text encoder reads the captions "
        "(else each trains its own)",
    )
    parser.add_argument(
        "--hub-text-encoder",
        metavar="HANDLE",
        help="read the captions with a frozen keras-hub CLIP or BERT text encoder and its own "
        "tokenizer instead of training the zoo's BiLSTM on a vocabulary: a preset name "
        "(clip_vit_base_patch32, downloaded on first use), a kaggle:// or hf:// handle, or a "
        "local preset directory (dcgan-cls, stackgan --stage 1, dfgan without --damsm, damsm)",
    )
    parser.add_argument(
        "--image-encoder",
        choices=("small", "inception_v3"),
        default="small",
        help="damsm: the image encoder (inception_v3 needs --inception-weights)",
    )
    parser.add_argument(
        "--inception-weights", help="damsm: local keras.applications InceptionV3 weights"
    )
    parser.add_argument(
        "--image-size",
        type=COUNT,
        help="default 64 (Stage-II: 4x its Stage-I; AttnGAN: set by its stages; DF-GAN: its "
        "preset's, 256 or small's 32)",
    )
    parser.add_argument(
        "--num-images",
        type=COUNT,
        default=5000,
        help="shapes: how many captioned images to draw for training (other data is read whole)",
    )
    parser.add_argument(
        "--epochs",
        type=COUNT,
        default=5,
        help="epochs in all: a resumed run trains until it has done this many",
    )
    parser.add_argument("--batch-size", type=COUNT, default=64, help="images per training step")
    parser.add_argument(
        "--eval-samples",
        type=COUNT,
        default=300,
        help="shapes: held-out captions of the final alignment measure (a DAMSM's R-precision: "
        "at least 100 images)",
    )
    parser.add_argument(
        "--monitor-every",
        type=COUNT,
        default=1,
        help="epochs between quality estimates (FID on pixels, alignment, diversity)",
    )
    parser.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="a model argument, e.g. --set label_smoothing=0.1 --set instance_noise=0.1",
    )


def build_parser():
    """The `gan-zoo` parser, each subcommand's `func` the function that runs it.

    Built from argparse alone, so that parsing and --help import no Keras.
    """
    parser = argparse.ArgumentParser(
        prog="gan-zoo",
        description=__doc__.partition("\n")[0],
        epilog="TensorFlow's start-up log lines are left out; set TF_CPP_MIN_LOG_LEVEL (0: all "
        "of them) to see them.",
        formatter_class=_HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser(
        "train",
        help="train a model; writes checkpoints, sample grids, plots",
        formatter_class=_HelpFormatter,
    )
    _add_training_arguments(train)
    train.add_argument(
        "--seed",
        type=SEED,
        default=0,
        help="seed of the weights, the shapes and the training order",
    )
    train.add_argument(
        "--out",
        default="runs/latest",
        help="the run's folder: checkpoints, sample grids, plots, model.keras, metrics.json",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out if there is one (else start it)",
    )
    train.set_defaults(func=_train)

    sweep = sub.add_parser(
        "sweep",
        help="train over a grid of settings and seeds; summary table and plot",
        formatter_class=_HelpFormatter,
    )
    _add_training_arguments(sweep)
    sweep.add_argument(
        "--grid",
        action="append",
        metavar="NAME=V1,V2,...",
        required=True,
        help="a model argument and its values (repeat for more), e.g. --grid "
        "label_smoothing=0,0.1 --grid learning_rate=2e-4,4e-4",
    )
    sweep.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, one run each")
    sweep.add_argument(
        "--out",
        default="runs/sweep",
        help="one folder per setting and seed below it; an interrupted sweep "
        "continues where it stopped",
    )
    sweep.set_defaults(func=_sweep)

    generate = sub.add_parser(
        "generate", help="images for captions from a trained model", formatter_class=_HelpFormatter
    )
    generate.add_argument("captions", nargs="+", help="the captions to draw, one row each")
    generate.add_argument("--checkpoint", required=True, help=".keras file or run directory")
    generate.add_argument("--num", type=COUNT, default=1, help="images per caption")
    generate.add_argument(
        "--seed",
        type=SEED,
        default=0,
        help="seed of the noise: the same seed draws the same images",
    )
    generate.add_argument("--out", default="generated.png", help="the PNG grid to write")
    generate.add_argument(
        "--attention", metavar="PNG", help="attngan: also draw each word's attention"
    )
    generate.add_argument(
        "--truncation",
        type=SCALE,
        help="noise cut at ±2σ and scaled by this (DF-GAN's authors sample with 0.88); "
        "without it, untruncated",
    )
    generate.set_defaults(func=_generate)

    evaluate = sub.add_parser(
        "evaluate",
        help="FID, KID, IS, R-precision, CLIPScore, caption alignment, coverage, diversity",
        formatter_class=_HelpFormatter,
    )
    evaluate.add_argument("--checkpoint", required=True, help=".keras file or run directory")
    evaluate.add_argument(
        "--data",
        default="shapes",
        help="the real images compared with: shapes, or the test split of "
        + ", ".join(f"{k}:PATH" for k in DATASETS)
        + " (folder: every image in it)",
    )
    evaluate.add_argument(
        "--cache", help="a .npz file keeping the decoded test split for the next run"
    )
    evaluate.add_argument(
        "--fix",
        action="append",
        metavar="ATTR=VALUE",
        help="shapes: attributes held fixed in training (as in train --fix)",
    )
    evaluate.add_argument(
        "--metrics",
        help="comma-separated: fid, kid, is, r_precision, clipscore, alignment, diversity "
        "(the last two on shapes); default fid,kid,alignment,diversity on shapes, "
        "else fid,kid",
    )
    evaluate.add_argument(
        "--features",
        choices=("pixels", "inception", "pytorch-fid"),
        help="feature space of FID/KID/IS/diversity: pixels (the default without "
        "--inception-weights), inception (keras.applications weights; the "
        "default with them) or pytorch-fid (the papers' network, its weights)",
    )
    evaluate.add_argument(
        "--inception-weights",
        help="local weights: keras.applications InceptionV3 "
        "(.h5) or pytorch-fid's pt_inception-2015-12-05-6726825d.pth",
    )
    evaluate.add_argument(
        "--damsm",
        help="r_precision: a trained DAMSM .keras file or run directory (an AttnGAN uses its own)",
    )
    evaluate.add_argument(
        "--clip",
        metavar="HANDLE",
        help="clipscore: a keras-hub CLIP preset: a name (clip_vit_base_patch32, downloaded "
        "on first use), a kaggle:// or hf:// handle, or a local preset directory",
    )
    evaluate.add_argument(
        "--num-samples",
        type=COUNT,
        default=1000,
        help="images drawn and measured, against up to as many real ones (the papers: 30000)",
    )
    evaluate.add_argument(
        "--seed", type=SEED, default=0, help="seed of the noise and of the shapes' test split"
    )
    evaluate.add_argument("--out", help="JSON report path (a Markdown table is written beside it)")
    evaluate.add_argument(
        "--truncation",
        type=_truncation,
        default="authors",
        help="the noise the measured images are drawn from: 'authors' (as the model's authors "
        "evaluate: DF-GAN truncated at 0.88, the others untruncated), 'none', or a number "
        "> 0 (noise cut at ±2σ and scaled by it)",
    )
    evaluate.set_defaults(func=_evaluate)

    convert = sub.add_parser(
        "convert",
        help="the authors' PyTorch checkpoints -> a .keras file or a keras-hub preset",
        formatter_class=_HelpFormatter,
    )
    convert.add_argument(
        "network",
        choices=("damsm", "attngan", "stackgan", "dfgan"),
        help="the network the files hold",
    )
    convert.add_argument(
        "checkpoint",
        nargs="?",
        help="attngan/stackgan: the generator .pth (netG_epoch_N.pth); dfgan: "
        "state_epoch_N.pth (G, D and C)",
    )
    convert.add_argument("--text-encoder", help="damsm: text_encoder*.pth")
    convert.add_argument("--image-encoder", help="damsm: image_encoder*.pth")
    convert.add_argument(
        "--captions", help="damsm: the captions.pickle holding the encoder's vocabulary"
    )
    convert.add_argument(
        "--damsm", help="attngan, dfgan: the converted DAMSM (its .keras file or preset directory)"
    )
    convert.add_argument("--discriminator", help="stackgan: netD .pth too (to go on training)")
    convert.add_argument(
        "--stage", type=int, choices=(1, 2), default=1, help="stackgan: which stage"
    )
    convert.add_argument(
        "--preset", help="birds or coco (attngan and dfgan default birds, stackgan coco)"
    )
    convert.add_argument("--out", help="the .keras file to write (give it, --to-preset, or both)")
    convert.add_argument(
        "--to-preset",
        metavar="DIR",
        help="the keras-hub preset directory to write (config.json, model.weights.h5, "
        "metadata.json, the vocabulary asset), which Model.from_preset(DIR) loads",
    )
    convert.set_defaults(func=_convert)
    return parser


# What TensorFlow (2.21) writes to stderr as it starts that TF_CPP_MIN_LOG_LEVEL does not
# reach: its profiler plugin logs the CUDA stub's "Could not find cuda drivers" (after absl's
# preamble) while it loads, before it reads the level, and on a machine without a GPU driver
# its first look for GPUs logs the failed cuInit as an error.
TENSORFLOW_START_UP = re.compile(
    r"absl::InitializeLog\(\) is called|cudart_stub\.cc:\d+\]|failed call to cuInit"
)


@contextlib.contextmanager
def _stderr_without(noise):
    """Holds what the block writes to file descriptor 2 (where C++ code logs, as Python's
    stderr does) in a temporary file, then writes its lines to stderr, less those that the
    regular expression `noise` matches."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not noise.search(line)))
            sys.stderr.flush()


def _start_backend_quietly():
    """Keeps TensorFlow's start-up lines off stderr unless the user set TF_CPP_MIN_LOG_LEVEL
    (then TensorFlow logs as that level says and nothing is dropped): sets the level to 2,
    which keeps TensorFlow's info and warnings out once it has started, then imports Keras and
    starts its backend before the subcommand does, dropping the lines that TensorFlow writes
    before it reads the level (TENSORFLOW_START_UP)."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with _stderr_without(TENSORFLOW_START_UP):
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # looks for GPUs now rather than at the first op


# The errors of the disk or of permissions that the command line names without a traceback.
FILE_SYSTEM_ERRNOS = {
    errno.ENOSPC,
    getattr(errno, "EDQUOT", errno.ENOSPC),
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOTDIR,
    errno.EISDIR,
}


def main(argv=None):
    """Runs the `gan-zoo` command line.

    Args:
        argv: the arguments after the program name; None reads sys.argv.

    Returns:
        The exit status: 0, or 2 where the run stopped on an error it names on stderr (bad
        input or files, a full disk or a denied permission, a training run that diverged).
        Other errors are bugs and keep their traceback.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.given = {token.partition("=")[0] for token in argv if token.startswith("--")}
    try:
        _start_backend_quietly()
        from gan_zoo.divergence import DivergenceError  # imports Keras: after its start
    except ImportError as error:  # an unsupported backend or Keras
        return _report(error)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, KeyError, ImportError, DivergenceError) as error:
        return _report(error)
    except OSError as error:
        if error.errno not in FILE_SYSTEM_ERRNOS:
            raise
        return _report(error)
    return 0


def _report(error):
    """Prints `error`'s message as the command line's error; returns the exit status, 2."""
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    print(f"gan-zoo: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
