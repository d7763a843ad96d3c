"""Loaders of captioned images on disk, on miniature copies of the real layouts."""

import json
import os
import pickle
import warnings

import numpy as np
import pytest
from PIL import Image

from gan_zoo.data import coco, collection, cub, folder

pytestmark = pytest.mark.once  # file formats and caches: the same on every backend


def _save(path, array, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


@pytest.fixture
def photos(tmp_path):
    """A user's folder: good images in three modes, a corrupt one, one without captions, one
    with an empty caption file and one whose caption has no word."""
    root = tmp_path / "photos"
    _save(root / "a.jpg", np.full((40, 30, 3), 200, np.uint8))
    _write(root / "a.txt", "a grey photo\n\n...\na light grey picture\n")
    _save(root / "birds" / "b.png", np.full((20, 20, 4), 90, np.uint8))  # RGBA
    _write(root / "birds" / "b.txt", "a dark square")
    _save(root / "birds" / "c.png", np.full((16, 16), 65535, np.uint16))  # 16-bit grayscale
    _write(root / "birds" / "c.txt", "a white square")
    _write(root / "d.jpg", "this is not a jpeg")
    _write(root / "d.txt", "a broken file")
    _save(root / "e.png", np.zeros((8, 8, 3), np.uint8))
    _save(root / "f.png", np.zeros((8, 8, 3), np.uint8))
    _write(root / "f.txt", "  \n")
    _save(root / "g.png", np.zeros((8, 8, 3), np.uint8))
    _write(root / "g.txt", "!!! ...\n")
    return root


def test_folder_loads_images_and_captions_and_counts_what_it_skips(photos):
    with pytest.warns(UserWarning, match="skipped: 1 unreadable images, 3 without captions"):
        data = folder.load(photos, image_size=32, labels="subfolder", verbose=False)
    assert len(data) == 3 and data.images.shape == (3, 32, 32, 3) and data.images.dtype == np.uint8
    assert data.skipped == {"unreadable images": 1, "without captions": 3}
    by_name = {os.path.basename(p): i for i, p in enumerate(data.paths)}
    assert data.captions[by_name["a.jpg"]] == ["a grey photo", "a light grey picture"]
    assert data.images[by_name["c.png"]].min() == 255  # 16-bit white stays white
    assert data.images[by_name["b.png"]].max() == 90  # RGBA -> RGB
    assert list(data.labels) == [0, 1, 1]  # the root, then birds/
    vocab = data.build_vocabulary()
    batch = next(iter(data.to_dataset(vocab, batch_size=2, image_size=16, use_tf_data=False)))
    assert batch["images"].shape == (2, 16, 16, 3) and "labels" in batch


def test_strict_and_missing_folders_name_the_problem(photos, tmp_path):
    with pytest.raises(ValueError, match="d.jpg"):
        folder.load(photos, image_size=32, strict=True, verbose=False)
    with pytest.raises(FileNotFoundError, match="same-name .txt"):
        folder.load(tmp_path / "nowhere", verbose=False)


def test_manifests_in_csv_and_jsonl(photos):
    _write(
        photos / "captions.csv",
        "image,caption\na.jpg,a grey photo\na.jpg,another caption\nbirds/b.png,a dark square\n",
    )
    data = folder.load(manifest=str(photos / "captions.csv"), image_size=8, verbose=False)
    assert data.captions == [["a grey photo", "another caption"], ["a dark square"]]
    _write(
        photos / "captions.JSONL", json.dumps({"image": "birds/c.png", "caption": "white"}) + "\n"
    )
    assert folder.load(
        manifest=str(photos / "captions.JSONL"), image_size=8, verbose=False
    ).captions == [["white"]]
    _write(
        photos / "lists.jsonl",
        json.dumps({"image": "birds/c.png", "caption": ["white", "pale"]}) + "\n",
    )
    with pytest.raises(ValueError, match="entry 1: 'caption' must be one string"):
        folder.load(manifest=str(photos / "lists.jsonl"), image_size=8, verbose=False)
    _write(photos / "bad.csv", "path,text\na.jpg,x\n")
    with pytest.raises(ValueError, match="'image' and 'caption'"):
        folder.load(manifest=str(photos / "bad.csv"), verbose=False)


def _bird(size, box):
    """A red image with a blue bounding box (x, y, w, h)."""
    image = np.zeros(size + (3,), np.uint8)
    image[..., 0] = 255
    x, y, w, h = box
    image[y : y + h, x : x + w] = (0, 0, 255)
    return image


@pytest.fixture
def birds(tmp_path):
    """CUB in AttnGAN's layout: 2 classes, 3 train images (one corrupt), 1 test image."""
    root = tmp_path / "birds"
    names = [
        "001.Albatross/Albatross_0001",
        "001.Albatross/Albatross_0002",
        "002.Auklet/Auklet_0003",
        "002.Auklet/Auklet_0004",
    ]
    boxes = [(40, 30, 20, 20), (0, 0, 20, 40), (10, 10, 30, 30), (5, 5, 10, 10)]
    for i, (name, box) in enumerate(zip(names, boxes)):
        path = root / "CUB_200_2011" / "images" / f"{name}.jpg"
        if i == 2:
            _write(path, "truncated")
        else:
            _save(path, _bird((80, 100), box))
        _write(root / "text" / f"{name}.txt", "\n".join(f"bird {i} caption {k}" for k in range(10)))
    _write(
        root / "CUB_200_2011" / "images.txt",
        "".join(f"{i + 1} {n}.jpg\n" for i, n in enumerate(names)),
    )
    _write(
        root / "CUB_200_2011" / "bounding_boxes.txt",
        "".join(f"{i + 1} {x}.0 {y}.0 {w}.0 {h}.0\n" for i, (x, y, w, h) in enumerate(boxes)),
    )
    for split, part, classes in (("train", names[:3], [1, 1, 2]), ("test", names[3:], [2])):
        os.makedirs(root / split)
        with open(root / split / "filenames.pickle", "wb") as f:
            pickle.dump(part, f, protocol=2)
        with open(root / split / "class_info.pickle", "wb") as f:
            pickle.dump(classes, f, protocol=2)
    # StackGAN's char-CNN-RNN embeddings, [N, 10, E] (E 1024 in theirs), row i for filename i
    with open(root / "train" / "char-CNN-RNN-embeddings.pickle", "wb") as f:
        pickle.dump(np.arange(3 * 10 * 16, dtype="float32").reshape(3, 10, 16), f, protocol=2)
    return root


def test_cub_split_captions_labels_and_the_authors_crop(birds):
    with pytest.warns(UserWarning, match="1 unreadable images"):
        train = cub.load(birds, "train", image_size=30, verbose=False)
    assert len(train) == 2 and train.skipped == {"unreadable images": 1}
    assert len(train.captions[0]) == 10 and train.captions[1][0] == "bird 1 caption 0"
    assert list(train.labels) == [1, 1]
    # box (40, 30, 20, 20): the 30 px square around its centre, so blue in the middle, red around
    first = train.images[0].astype(int)
    assert first[15, 15, 2] > 200 and first[15, 15, 0] < 50 and first[1, 1, 0] > 200
    assert collection.square_around((0, 0, 20, 40), 100, 80) == (0, 0, 40, 50)  # clipped
    test = cub.load(birds, "test", image_size=16, crop=False, verbose=False)
    assert len(test) == 1 and list(test.labels) == [2]


def test_cub_missing_files_name_the_layout(birds, tmp_path):
    with pytest.raises(FileNotFoundError, match="Expected layout: birds/CUB_200_2011"):
        cub.load(tmp_path / "nothing")
    os.remove(birds / "test" / "filenames.pickle")
    with pytest.raises(FileNotFoundError, match="test/filenames.pickle"):
        cub.load(birds, "test")


def test_16_bit_images_keep_their_grey_levels_and_float_ones_are_refused():
    from PIL import Image

    grey = Image.fromarray(np.full((8, 8), 16384, np.uint16))  # a quarter of the 16-bit range
    assert grey.mode.startswith("I") and collection.fit_image(grey, 4).max() == 64  # not white
    with pytest.raises(ValueError, match="floating-point"):
        collection.fit_image(Image.fromarray(np.full((8, 8), 0.5, np.float32)), 4)


def test_images_keep_their_aspect_ratio(tmp_path):
    """A wide image is cut to its central square before resizing, not squashed."""
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, 20:40] = 255  # the central square is white, the sides black
    _save(tmp_path / "wide.png", wide)
    assert collection.read_image(tmp_path / "wide.png", 10).min() == 255


def test_coco_in_the_attngan_and_the_official_layouts(tmp_path):
    attn = tmp_path / "coco"
    names = ["COCO_train2014_000000000009", "COCO_train2014_000000000025"]
    for name in names:
        _save(attn / "images" / f"{name}.jpg", np.full((30, 40, 3), 120, np.uint8))
        _write(attn / "text" / f"{name}.txt", "\n".join(f"{name} caption {k}" for k in range(5)))
    os.makedirs(attn / "train")
    with open(attn / "train" / "filenames.pickle", "wb") as f:
        pickle.dump(names, f, protocol=2)
    data = coco.load(attn, "train", image_size=16, verbose=False)
    assert len(data) == 2 and len(data.captions[0]) == 5 and data.labels is None

    official = tmp_path / "official"
    _save(official / "val2014" / "COCO_val2014_000000000042.jpg", np.full((30, 40, 3), 7, np.uint8))
    _write(
        official / "annotations" / "captions_val2014.json",
        json.dumps(
            {
                "images": [
                    {"id": 42, "file_name": "COCO_val2014_000000000042.jpg"},
                    {"id": 43, "file_name": "COCO_val2014_000000000043.jpg"},  # listed, not on disk
                    {"id": 44, "file_name": "COCO_val2014_000000000044.jpg"},
                ],  # and no caption
                "annotations": [
                    {"image_id": 42, "id": 1, "caption": "a plate of food"},
                    {"image_id": 42, "id": 2, "caption": "some food on a plate"},
                    {"image_id": 43, "id": 3, "caption": "a missing picture"},
                ],
            }
        ),
    )
    with pytest.warns(UserWarning, match="1 missing images, 1 without captions"):
        test = coco.load(official, "test", image_size=16, verbose=False)
    assert test.captions == [["a plate of food", "some food on a plate"]]
    with pytest.raises(FileNotFoundError, match="captions_train2014.json"):
        coco.load(official, "train", verbose=False)
    with pytest.raises(FileNotFoundError, match="Expected layout"):
        coco.load(tmp_path, "train", verbose=False)


@pytest.mark.parametrize("use_tf_data", [True, False])
def test_cub_with_stackgan_embeddings_trains_an_embedding_model(birds, use_tf_data):
    from conftest import tiny_dcgan

    with pytest.warns(UserWarning, match="1 unreadable images"):
        train = cub.load(birds, "train", image_size=32, embeddings=True, verbose=False)
    expected = np.arange(3 * 10 * 16, dtype="float32").reshape(3, 10, 16)[
        :2
    ]  # row 2 was unreadable
    np.testing.assert_array_equal(train.embeddings, expected)
    ds = train.to_dataset(batch_size=2, use_tf_data=use_tf_data, seed=0)
    batch = next(iter(ds))
    assert set(batch) == {"images", "embeddings", "labels"} and tuple(
        batch["embeddings"].shape
    ) == (2, 16)
    rows = np.asarray(batch["embeddings"])
    assert all(any(np.array_equal(r, e) for e in expected.reshape(-1, 16)) for r in rows)
    model = tiny_dcgan(None, embedding_dim=16)
    model.compile()
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][-1])
    with pytest.raises(ValueError, match="vocabulary"):
        cub.load(birds, "test", image_size=16, verbose=False).to_dataset()


def _colour(value, size=(30, 40)):
    """A flat image whose three channels encode `value`, to tell images apart after resizing."""
    return np.full(size + (3,), (value, 255 - value, 128), np.uint8)


def _pickle(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


@pytest.fixture
def flowers_root(tmp_path):
    """Oxford-102 in StackGAN's layout: 2 classes, 4 train images (one a truncated JPEG, one with
    an empty caption file; entries in both "jpg/..." and "class_XXXXX/..." form, with
    class_info and embeddings) and 1 test image (no class_info.pickle)."""
    root = tmp_path / "flowers"
    classes = {1: [1, 2, 3], 2: [4, 5]}
    for label, numbers in classes.items():
        for n in numbers:
            _save(root / "jpg" / f"image_{n:05d}.jpg", _colour(40 * n))
            _write(
                root / "text_c10" / f"class_{label:05d}" / f"image_{n:05d}.txt",
                "\n".join(f"flower {n} caption {k}" for k in range(10)),
            )
    with open(root / "jpg" / "image_00002.jpg", "rb") as f:
        whole = f.read()
    with open(root / "jpg" / "image_00002.jpg", "wb") as f:
        f.write(whole[: len(whole) // 2])
    _write(root / "text_c10" / "class_00001" / "image_00003.txt", " \n\n")
    _pickle(
        root / "train" / "filenames.pickle",
        ["jpg/image_00001", "jpg/image_00002", "jpg/image_00003", "class_00002/image_00004"],
    )
    _pickle(root / "train" / "class_info.pickle", [1, 1, 1, 2])
    _pickle(
        root / "train" / "char-CNN-RNN-embeddings.pickle",
        np.arange(4 * 10 * 8, dtype="float32").reshape(4, 10, 8),
    )
    _pickle(root / "test" / "filenames.pickle", ["jpg/image_00005"])
    return root


def test_flowers_split_captions_labels_embeddings_and_what_it_skips(flowers_root):
    from gan_zoo.data import flowers

    with pytest.warns(UserWarning, match="skipped: 1 unreadable images, 1 without captions"):
        train = flowers.load(flowers_root, "train", image_size=16, embeddings=True, verbose=False)
    assert len(train) == 2 and train.skipped == {"unreadable images": 1, "without captions": 1}
    assert [os.path.basename(p) for p in train.paths] == ["image_00001.jpg", "image_00004.jpg"]
    assert train.captions[1] == [f"flower 4 caption {k}" for k in range(10)]
    assert list(train.labels) == [1, 2]
    np.testing.assert_array_equal(
        train.embeddings, np.arange(320, dtype="float32").reshape(4, 10, 8)[[0, 3]]
    )
    # flat colours survive the central cut and the resize (JPEG moves them a little)
    assert np.abs(train.images[1].astype(int) - _colour(160)[:16, :16]).max() <= 3
    test = flowers.load(flowers_root, "test", image_size=16, verbose=False)
    assert len(test) == 1 and list(test.labels) == [2]  # the class of its caption folder
    assert test.embeddings is None
    with pytest.raises(ValueError, match="image_00002.jpg"):
        flowers.load(flowers_root, "train", image_size=16, strict=True, verbose=False)


def test_flowers_missing_files_name_the_layout(flowers_root, tmp_path):
    from gan_zoo.data import flowers

    with pytest.raises(FileNotFoundError, match="Expected layout: flowers/jpg"):
        flowers.load(tmp_path / "nothing", verbose=False)
    with pytest.raises(FileNotFoundError, match="char-CNN-RNN-embeddings.pickle"):
        flowers.load(flowers_root, "test", embeddings=True, verbose=False)
    _pickle(flowers_root / "test" / "class_info.pickle", [2, 2])
    with pytest.raises(ValueError, match="2 rows for 1 filenames"):
        flowers.load(flowers_root, "test", verbose=False)
    os.rename(flowers_root / "text_c10", flowers_root / "text")
    with pytest.raises(FileNotFoundError, match="text_c10"):
        flowers.load(flowers_root, "train", verbose=False)


def _many_items(tmp_path, count=14):
    """Random pictures of several sizes and modes, with a broken one and an uncaptioned one."""
    rng = np.random.default_rng(0)
    items = []
    for i in range(count):
        path = tmp_path / "many" / f"{i:02d}.png"
        _save(path, rng.integers(0, 256, (20 + 3 * i, 50 - 2 * i, 3), dtype=np.uint8))
        items.append(collection.Item(str(path), [f"picture {i}"], label=i))
    _write(tmp_path / "many" / "broken.png", "not a png")
    items.insert(3, collection.Item(str(tmp_path / "many" / "broken.png"), ["broken"], label=99))
    items.insert(7, items[0]._replace(captions=[" "]))
    return items


def test_parallel_decoding_gives_what_sequential_decoding_gives(tmp_path):
    items = _many_items(tmp_path)
    with pytest.warns(UserWarning, match="1 unreadable images, 1 without captions"):
        one = collection.read_items(items, 24, verbose=False, workers=1)
    with pytest.warns(UserWarning, match="1 unreadable images, 1 without captions"):
        four = collection.read_items(iter(items), 24, verbose=False, total=len(items), workers=4)
    expected = np.stack(
        [
            collection.read_image(item.path, 24)
            for item in items
            if item.label < 14 and item.captions != [" "]
        ]
    )
    np.testing.assert_array_equal(one.images, expected)
    np.testing.assert_array_equal(four.images, expected)
    assert one.paths == four.paths and one.captions == four.captions and one.skipped == four.skipped
    assert list(four.labels) == list(range(14))
    with pytest.raises(
        ValueError, match="broken.png"
    ):  # the first bad item, whichever thread ends first
        collection.read_items(items, 24, strict=True, verbose=False, workers=4)


def _same(a, b):
    """Two CaptionedImages hold the same data."""
    np.testing.assert_array_equal(a.images, b.images)
    for name in ("labels", "embeddings"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)
    assert a.captions == b.captions and a.paths == b.paths and a.skipped == b.skipped


def test_cache_is_read_back_and_rebuilt_when_its_settings_differ(flowers_root, tmp_path, capsys):
    from gan_zoo.data import flowers

    cache = tmp_path / "caches" / "flowers_train.npz"
    with pytest.warns(UserWarning, match="1 unreadable"):
        built = flowers.load(
            flowers_root, image_size=16, embeddings=True, verbose=False, cache=cache
        )
    assert os.listdir(cache.parent) == ["flowers_train.npz"]
    with open(cache, "rb") as f:
        assert (
            f.read(2) == b"PK"
        )  # an .npz archive, no pickle inside (read with allow_pickle=False)
    os.rename(flowers_root / "jpg", flowers_root / "gone")  # so only the cache can give the images
    with pytest.warns(UserWarning, match="from the cache"):
        cached = flowers.load(
            flowers_root, image_size=16, embeddings=True, verbose=True, cache=cache
        )
    _same(built, cached)
    assert "from the cache" in capsys.readouterr().out
    # other settings: rebuilt (here from the images, which are back), and the cache replaced
    os.rename(flowers_root / "gone", flowers_root / "jpg")
    with pytest.warns(UserWarning) as caught:
        small = flowers.load(flowers_root, image_size=8, verbose=False, cache=cache)
    assert any(
        "other settings" in str(w.message)
        and "'image_size': (16, 8)" in str(w.message)
        and "'embeddings': (True, False)" in str(w.message)
        for w in caught
    )
    assert small.images.shape == (2, 8, 8, 3) and small.embeddings is None
    os.rename(flowers_root / "jpg", flowers_root / "gone")
    with pytest.warns(UserWarning, match="from the cache"):
        _same(small, flowers.load(flowers_root, image_size=8, verbose=False, cache=cache))
    # strict: a cache that skipped images is no answer; the rebuild raises at the first one
    with pytest.raises(ValueError, match="image_00001.jpg"):
        flowers.load(flowers_root, image_size=8, strict=True, verbose=False, cache=cache)


def test_a_killed_cache_write_leaves_no_cache_and_a_corrupt_cache_is_rebuilt(
    photos, tmp_path, monkeypatch
):
    from gan_zoo.data import disk_cache

    cache = tmp_path / "caches" / "photos.npz"

    def killed(f, **arrays):
        f.write(b"PK\x03\x04 the first bytes of an archive")
        raise KeyboardInterrupt  # as a Ctrl-C half-way through writing

    with monkeypatch.context() as patch:
        patch.setattr(disk_cache.np, "savez", killed)
        with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning):
            folder.load(photos, image_size=8, verbose=False, cache=cache)
    assert os.listdir(cache.parent) == []  # neither a cache nor its temporary file
    with pytest.warns(UserWarning, match="skipped"):
        built = folder.load(photos, image_size=8, verbose=False, cache=cache)
    with open(cache, "r+b") as f:  # cut short, as a copy that did not finish
        f.truncate(os.path.getsize(cache) // 2)
    with pytest.warns(UserWarning) as caught:
        rebuilt = folder.load(photos, image_size=8, verbose=False, cache=cache)
    assert any(
        "Rebuilding the cache" in str(w.message) and "cannot be read" in str(w.message)
        for w in caught
    )
    _same(built, rebuilt)
    _write(cache, "not an archive at all")
    with (
        pytest.warns(UserWarning, match="cannot be read"),
        pytest.warns(UserWarning, match="skipped"),
    ):
        _same(built, folder.load(photos, image_size=8, verbose=False, cache=cache))
    assert disk_cache.read(cache)[1]["loader"] == "folder"  # rewritten whole


def test_coco_captions_from_tensorflow_datasets(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    from unittest import mock

    from gan_zoo.data import tfds_coco

    data_dir = tmp_path / "tensorflow_datasets"
    with pytest.raises(FileNotFoundError, match=f"tfds build coco_captions --data_dir {data_dir}"):
        tfds_coco.load(data_dir, verbose=False)
    assert not data_dir.exists()  # nothing downloaded, nothing prepared

    cache = tmp_path / "coco_test.npz"
    asked = []
    with tfds.testing.mock_data(num_examples=3):  # random examples from the builder's features
        mocked = tfds.core.DatasetBuilder.as_dataset

        def recording(builder, **kwargs):
            asked.append(kwargs["split"])
            return mocked(builder, **kwargs)

        features = tfds.decode.PartialDecoding(
            {"image": True, "image/filename": True, "captions": {"text": True}}
        )
        examples = list(tfds.as_numpy(tfds.load("coco_captions", split="train", decoders=features)))
        with mock.patch.object(tfds.core.DatasetBuilder, "as_dataset", recording):
            data = tfds_coco.load(data_dir, "test", image_size=16, verbose=False, cache=cache)
            tfds_coco.load(data_dir, "train", image_size=16, verbose=False)
    assert asked == ["val+test+restval", "train"]  # the papers' test set is all of val2014
    assert data.images.shape == (3, 16, 16, 3) and data.labels is None and not data.skipped
    for i, example in enumerate(examples):  # the mock gives every split the same examples
        expected = collection.fit_image(Image.fromarray(example["image"]), 16)
        np.testing.assert_array_equal(data.images[i], expected)
        assert data.paths[i] == example["image/filename"].decode()
        assert data.captions[i] == [
            t.decode().strip() for t in example["captions"]["text"] if t.strip()
        ]
    _same(
        data, tfds_coco.load(data_dir, "test", image_size=16, verbose=False, cache=cache)
    )  # no TFDS data now


def test_cache_paths_expand_home_refuse_folders_and_a_failed_write_keeps_the_data(
    photos, tmp_path, monkeypatch
):
    from gan_zoo.data import disk_cache
    from gan_zoo.utils.files import atomic_file

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.warns(UserWarning, match="skipped"):
        folder.load(photos, image_size=8, verbose=False, cache="~/caches/photos.npz")
    assert (tmp_path / "home" / "caches" / "photos.npz").exists()
    os.makedirs(tmp_path / "a_folder")
    with pytest.raises(IsADirectoryError, match="is a folder; give the path of an .npz file"):
        folder.load(photos, image_size=8, verbose=False, cache=tmp_path / "a_folder")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(disk_cache, "write", disk_full)
    with pytest.warns(UserWarning) as caught:
        data = folder.load(photos, image_size=8, verbose=False, cache=tmp_path / "full.npz")
    assert any(
        "Could not write the cache" in str(w.message) and "No space left" in str(w.message)
        for w in caught
    )
    assert len(data) == 3
    with pytest.raises(IsADirectoryError):  # the rename fails: its temporary file goes too
        with atomic_file(tmp_path / "a_folder", "w") as f:
            f.write("x")
    assert [name for name in os.listdir(tmp_path) if name.endswith(".tmp")] == []


def test_float_images_that_look_like_zero_to_one_are_warned_about():
    from gan_zoo.data import check_images

    images = np.random.default_rng(0).random((4, 8, 8, 3)).astype("float32")  # [0, 1]
    with pytest.warns(UserWarning, match=r"images in \[0, 1\] must be scaled \(x \* 2 - 1\)"):
        check_images(images)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_images(images * 2 - 1)


def test_missing_caption_and_image_folders_are_named_and_reeds_folder_name_works(birds):
    os.rename(birds / "text", birds / "text_c10")  # Reed's name for the same captions
    with pytest.warns(UserWarning, match="1 unreadable"):
        assert len(cub.load(birds, "train", image_size=8, verbose=False)) == 2
    os.rename(birds / "text_c10", birds / "text.zip.unpacked")
    with pytest.raises(
        FileNotFoundError, match=r"Missing .*birds/text\. .*unzip AttnGAN's text\.zip"
    ):
        cub.load(birds, "train", image_size=8, verbose=False)
    os.rename(birds / "text.zip.unpacked", birds / "text")
    os.rename(birds / "CUB_200_2011" / "images", birds / "CUB_200_2011" / "pictures")
    with pytest.raises(FileNotFoundError, match="CUB_200_2011/images"):
        cub.load(birds, "train", image_size=8, verbose=False)


def test_when_nothing_can_be_used_the_first_failure_is_named(tmp_path):
    items = [collection.Item(str(tmp_path / f"missing_{i}.jpg"), ["a caption"]) for i in range(2)]
    with pytest.raises(ValueError, match=r"None of the 2 images .* the first: .*missing_0\.jpg"):
        collection.read_items(items, 8, verbose=False)
    items = [collection.Item(str(tmp_path / "x.jpg"), [])]
    with pytest.raises(ValueError, match="x.jpg: no caption with a word .*missing or empty"):
        collection.read_items(items, 8, strict=True, verbose=False)


def test_coco_2017_is_read_where_2014_is_absent(tmp_path):
    root = tmp_path / "coco2017"
    _save(root / "val2017" / "000000000042.jpg", np.full((30, 40, 3), 7, np.uint8))
    _write(
        root / "annotations" / "captions_val2017.json",
        json.dumps(
            {
                "images": [{"id": 42, "file_name": "000000000042.jpg"}],
                "annotations": [{"image_id": 42, "id": 1, "caption": "a plate of food"}],
            }
        ),
    )
    assert coco.load(root, "test", image_size=8, verbose=False).captions == [["a plate of food"]]
    with pytest.raises(FileNotFoundError, match="captions_val2014.json"):
        coco.load(root, "test", image_size=8, verbose=False, year=2014)
    os.remove(root / "val2017" / "000000000042.jpg")
    os.rmdir(root / "val2017")
    with pytest.raises(FileNotFoundError, match="Missing .*val2017"):
        coco.load(root, "test", image_size=8, verbose=False)


def test_spreadsheet_and_notepad_encodings_bad_jsonl_lines_and_phone_photos(photos):
    _write(photos / "excel.csv", "\ufeffimage,caption\na.jpg,a grey photo\n")  # Excel's "CSV UTF-8"
    assert folder.load(
        manifest=str(photos / "excel.csv"), image_size=8, verbose=False
    ).captions == [["a grey photo"]]
    _write(
        photos / "broken.jsonl", json.dumps({"image": "a.jpg", "caption": "x"}) + "\n{not json\n"
    )
    with pytest.raises(ValueError, match="broken.jsonl, line 2 is not JSON"):
        folder.load(manifest=str(photos / "broken.jsonl"), verbose=False)
    _write(
        photos / "nokey.jsonl",
        json.dumps({"image": "a.jpg", "caption": "x"}) + "\n" + json.dumps({"caption": "y"}),
    )
    with pytest.raises(ValueError, match="entry 2: needs 'image' and 'caption'"):
        folder.load(manifest=str(photos / "nokey.jsonl"), verbose=False)
    with open(photos / "a.txt", "w", encoding="utf-16") as f:  # Notepad's "Unicode"
        f.write("a grey photo\n")
    assert collection.read_lines(photos / "a.txt") == ["a grey photo"]
    with open(photos / "a.txt", "wb") as f:  # old Mac line ends
        f.write(b"a grey photo\ra second caption\r")
    assert collection.read_lines(photos / "a.txt") == ["a grey photo", "a second caption"]
    stored = np.zeros((10, 20, 3), np.uint8)  # stored 20 wide, 10 high: a white top half
    stored[:5] = 255
    sideways = Image.fromarray(stored)
    exif = sideways.getexif()
    exif[0x0112] = 6  # EXIF orientation 6: shown turned 90 degrees clockwise, the top on the right
    sideways.save(photos / "phone.jpg", exif=exif)
    kept = collection.read_image(photos / "phone.jpg", 8).astype(int)
    upright = collection.read_image(photos / "phone.jpg", 8, upright=True).astype(int)
    assert kept[0].mean() > 200 and kept[-1].mean() < 50  # as stored: white on top
    assert upright[:, -1].mean() > 200 and upright[:, 0].mean() < 50  # as shown: white on the right
