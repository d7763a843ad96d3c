"""What checking every batch costs a user's own tf.data pipeline (`fit`'s input checks).

Times passes over a tf.data dataset of float images and tokens, as a user would build it from
arrays in memory, with and without the checks `fit` adds (`checks.checked_input`: finite
values, images in [-1, 1], token ids in the vocabulary), and prints the cost per batch.

    python benchmarks/input_checks.py [--images 4096] [--size 64] [--batch 64] [--passes 5]
"""

import argparse
import statistics
import time

import numpy as np
import tensorflow as tf

from gan_zoo import DCGANCLS, Vocabulary
from gan_zoo.models import checks


def seconds_per_pass(dataset, passes):
    times = []
    for _ in range(passes + 1):  # the first pass warms the pipeline up
        start = time.perf_counter()
        for _ in dataset:
            pass
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vocabulary = Vocabulary.build([f"word{i}" for i in range(100)])
    model = DCGANCLS(vocabulary=vocabulary, image_size=args.size)
    images = rng.uniform(-1, 1, (args.images, args.size, args.size, 3)).astype("float32")
    tokens = rng.integers(0, len(vocabulary), (args.images, model.max_length)).astype("int32")
    plain = (
        tf.data.Dataset.from_tensor_slices({"images": images, "tokens": tokens})
        .shuffle(args.images, seed=0)
        .batch(args.batch, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    checked, _ = checks.checked_input(model, plain)
    batches = args.images // args.batch
    base = seconds_per_pass(plain, args.passes)
    more = seconds_per_pass(checked, args.passes)
    print(
        f"{batches} batches of {args.batch} at {args.size} px: {base * 1e3 / batches:.3f} ms per "
        f"batch unchecked, {more * 1e3 / batches:.3f} ms checked "
        f"(+{(more - base) * 1e3 / batches:.3f} ms, {100 * (more / base - 1):+.1f}%)"
    )


if __name__ == "__main__":
    main()
