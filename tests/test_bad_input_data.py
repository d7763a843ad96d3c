"""A catalogue of bad caption files and manifests: each is refused with one message naming the
file (and line) and the fix, loads exactly, or is skipped and listed by name, never silently
read wrong."""

import codecs
import json
import os
import pickle
import re
import tempfile

import numpy as np
import pytest
from PIL import Image

from gan_zoo.data import coco, collection, folder

pytestmark = pytest.mark.once  # file formats: the same on every backend


@pytest.fixture(autouse=True)
def _logs_in_tmp_path(tmp_path, monkeypatch):
    """Skipped-file logs go to a temporary folder of the test's own, not the system's."""
    os.makedirs(tmp_path / "tmp")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


def _image(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(path)


def _bytes(path, raw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(raw)


def caption_file(raw):
    """A folder of one image whose caption file holds `raw`; loads it."""

    def build(tmp_path):
        _image(tmp_path / "photos" / "a.png")
        _bytes(tmp_path / "photos" / "a.txt", raw)
        return lambda: folder.load(tmp_path / "photos", image_size=8, verbose=False)

    return build


def manifest(name, raw, images=("a.png",)):
    """A manifest `name` holding `raw` beside the `images`; loads it."""

    def build(tmp_path):
        for image in images:
            _image(tmp_path / image)
        _bytes(tmp_path / name, raw)
        return lambda: folder.load(manifest=str(tmp_path / name), image_size=8, verbose=False)

    return build


def jsonl(*lines):
    return manifest("captions.jsonl", "\n".join(lines).encode())


def coco_annotations(raw):
    """COCO's official layout with captions_val2014.json holding `raw`; loads its test split."""

    def build(tmp_path):
        _image(tmp_path / "coco" / "val2014" / "COCO_val2014_000000000042.jpg")
        _bytes(tmp_path / "coco" / "annotations" / "captions_val2014.json", raw)
        return lambda: coco.load(tmp_path / "coco", "test", image_size=8, verbose=False)

    return build


def coco_attngan_caption(raw):
    """COCO in AttnGAN's layout, its one caption file holding `raw`; loads its train split."""

    def build(tmp_path):
        root = tmp_path / "coco"
        _image(root / "images" / "x.jpg")
        _bytes(root / "text" / "x.txt", raw)
        _bytes(root / "train" / "filenames.pickle", pickle.dumps(["x"], protocol=2))
        return lambda: coco.load(root, "train", image_size=8, verbose=False)

    return build


LATIN1 = "a café circle".encode("latin-1")
SAVE_AS_UTF8 = r"Save it as UTF-8 .*iconv -f latin1 -t utf-8"
EXPECTED_JSONL = r"Expected a JSONL manifest: one JSON object per line"

REFUSED = [
    (
        "latin1_caption_file",
        caption_file(LATIN1),
        ValueError,
        r"a\.txt is not UTF-8: invalid continuation byte at line 1 \(b'\\xe9'\)\. " + SAVE_AS_UTF8,
    ),
    (
        "latin1_on_line_3",
        caption_file(b"a red circle\nmore\n" + LATIN1),
        ValueError,
        r"a\.txt is not UTF-8: .* at line 3 ",
    ),
    (
        "utf16_without_byte_order_mark",
        caption_file("a red circle".encode("utf-16-le")),
        ValueError,
        r"a\.txt holds NUL characters: UTF-16 or UTF-32 without a byte-order mark.*UTF-8",
    ),
    (
        "utf16_cut_short",
        caption_file("a red circle".encode("utf-16") + b"x"),
        ValueError,
        r"a\.txt is not UTF-16: truncated data at line 1",
    ),
    (
        "latin1_csv_manifest",
        manifest("captions.csv", b"image,caption\na.png," + LATIN1 + b"\n"),
        ValueError,
        r"captions\.csv is not UTF-8: .* at line 2 .*" + SAVE_AS_UTF8,
    ),
    (
        "csv_unquoted_commas",
        manifest("captions.csv", b"image,caption\na.png,a red circle, big, on the left\n"),
        ValueError,
        r"captions\.csv, line 2: 4 fields under the header's 2 \(image,caption\)\. "
        r"Put a caption that holds commas in double quotes",
    ),
    (
        "csv_missing_caption_field",
        manifest("captions.csv", b"image,caption\r\n\r\na.png,red\r\na.png\r\n"),
        ValueError,
        r"captions\.csv, line 4: 1 fields under the header's 2",
    ),
    (
        "csv_missing_columns",
        manifest("captions.csv", b"path,text\na.png,a red circle\n"),
        ValueError,
        r"captions\.csv, line 1: the header needs the columns 'image' and 'caption'; "
        r"got \['path', 'text'\]\. Expected a CSV manifest: .*\n    image,caption\n",
    ),
    (
        "csv_quote_left_open",
        manifest("captions.csv", b'image,caption\na.png,"a red circle\na.png,blue\n'),
        ValueError,
        r"captions\.csv, lines 2-3: one row runs over several lines.*close it",
    ),
    (
        "csv_empty",
        manifest("captions.csv", b""),
        ValueError,
        r"captions\.csv is empty\. Expected a CSV manifest",
    ),
    (
        "csv_header_only",
        manifest("captions.csv", b"image,caption\n"),
        ValueError,
        r"captions\.csv lists no images\. Expected a CSV manifest",
    ),
    (
        "csv_empty_image_field",
        manifest("captions.csv", b"image,caption\n,a red circle\n"),
        ValueError,
        r"captions\.csv, line 2, entry 1: 'image' must be the image's path .*got ''",
    ),
    (
        "jsonl_line_not_an_object",
        jsonl('{"image": "a.png", "caption": "red"}', '["a.png", "blue"]'),
        ValueError,
        r"captions\.jsonl, line 2 is not a JSON object \(list\)\. " + EXPECTED_JSONL,
    ),
    (
        "jsonl_line_not_json",
        jsonl('{"image": "a.png", "caption": "red"}', "", "{image: a.png}"),
        ValueError,
        r"captions\.jsonl, line 3 is not JSON: Expecting property name .*" + EXPECTED_JSONL,
    ),
    (
        "json_array_for_jsonl",
        jsonl("[", '  {"image": "a.png", "caption": "red"}', "]"),
        ValueError,
        r"captions\.jsonl, line 1: a JSON array; JSONL holds no list .*" + EXPECTED_JSONL,
    ),
    (
        "jsonl_missing_key",
        jsonl('{"image": "a.png", "text": "red"}'),
        ValueError,
        r"captions\.jsonl, line 1, entry 1: needs 'image' and 'caption'; got \['image', 'text'\]",
    ),
    (
        "jsonl_image_not_a_path",
        jsonl('{"image": 7, "caption": "red"}'),
        ValueError,
        r"entry 1: 'image' must be the image's path \(relative to the manifest\); got 7",
    ),
    (
        "jsonl_caption_null",
        jsonl('{"image": "a.png", "caption": null}'),
        ValueError,
        r"entry 1: 'caption' must be one string; got NoneType",
    ),
    (
        "jsonl_blank",
        jsonl("", "  ", ""),
        ValueError,
        r"captions\.jsonl is empty\. " + EXPECTED_JSONL,
    ),
    (
        "coco_annotations_cut_short",
        coco_annotations(b'{"images": [{"id": 42, "file_na'),
        ValueError,
        r"captions_val2014\.json is not JSON \(.* line 1, column \d+\): download or unzip it again",
    ),
    (
        "coco_annotations_of_another_structure",
        coco_annotations(b'{"images": [{"id": 42, "file_name": "x.jpg"}]}'),
        ValueError,
        r"captions_val2014\.json is not a COCO captions file \(KeyError: 'annotations'\)\. "
        r"Expected \{\"images\"",
    ),
    (
        "coco_annotations_latin1",
        coco_annotations(b'{"images": [], "annotations": [{"caption": "' + LATIN1 + b'"}]}'),
        ValueError,
        r"captions_val2014\.json is not UTF-8: .* line 1 ",
    ),
    (
        "coco_attngan_latin1_caption",
        coco_attngan_caption(LATIN1),
        ValueError,
        r"text/x\.txt is not UTF-8: .* line 1 .*" + SAVE_AS_UTF8,
    ),
]


@pytest.mark.parametrize(
    "build, error, message", [row[1:] for row in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_bad_caption_files_and_manifests_are_refused_by_name(tmp_path, build, error, message):
    load = build(tmp_path)
    with pytest.raises(error, match=message) as raised:
        load()
    assert "\ufffd" not in str(raised.value)  # nothing replaced, even in the message
    got = raised.value  # one message: no chained traceback from inside csv, json or codecs
    assert got.__cause__ is None and (got.__context__ is None or got.__suppress_context__)


LOADED = [
    (
        "utf8_with_byte_order_mark",
        caption_file(codecs.BOM_UTF8 + "a café circle\nà droite\n".encode()),
        [["a café circle", "à droite"]],
    ),
    (
        "utf16_little_endian_with_mark",
        caption_file("a café circle\r\nà droite".encode("utf-16")),  # Notepad's "Unicode"
        [["a café circle", "à droite"]],
    ),
    (
        "utf16_big_endian_with_mark",
        caption_file(codecs.BOM_UTF16_BE + "a café circle\n".encode("utf-16-be")),
        [["a café circle"]],
    ),
    (
        "csv_excel_utf8_quoted_commas",
        manifest(
            "captions.csv",
            codecs.BOM_UTF8 + 'image,caption\r\na.png,"a café circle, big"\r\n'.encode(),
        ),
        [["a café circle, big"]],
    ),
    (
        "csv_utf16_with_mark_and_extra_column",
        manifest("captions.csv", "image,caption,source\na.png,un cœur,me\n".encode("utf-16")),
        [["un cœur"]],
    ),
    (
        "jsonl_unicode_and_crlf",
        manifest(
            "captions.jsonl",
            json.dumps({"image": "a.png", "caption": "a café circle"}).encode() + b"\r\n"
            b'{"image": "a.png", "caption": "\xe2\x80\x9cquoted\xe2\x80\x9d"}\r\n',
        ),
        [["a café circle", "\u201cquoted\u201d"]],
    ),
]


@pytest.mark.parametrize("build, captions", [row[1:] for row in LOADED], ids=[r[0] for r in LOADED])
def test_supported_encodings_load_the_exact_text(tmp_path, build, captions, recwarn):
    assert build(tmp_path)().captions == captions
    assert not recwarn.list


def _log(warning):
    """The skipped-file log a warning names, as (path, reason) pairs."""
    log = re.search(r"are listed in (\S+\.txt)", str(warning.message)).group(1)
    with open(log, encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f]


def _truncated(path):
    _image(path)
    with open(path, "rb") as f:
        whole = f.read()
    _bytes(path, whole[: len(whole) // 2])


def test_a_missing_and_a_truncated_image_are_skipped_and_listed_by_name(tmp_path):
    _image(tmp_path / "a.png")
    _truncated(tmp_path / "cut.png")
    _bytes(tmp_path / "captions.csv", b"image,caption\na.png,red\ngone.png,blue\ncut.png,cut\n")
    with pytest.warns(UserWarning) as caught:
        data = folder.load(manifest=str(tmp_path / "captions.csv"), image_size=8, verbose=False)
    assert [os.path.basename(p) for p in data.paths] == ["a.png"]
    assert data.skipped == {"missing images": 1, "unreadable images": 1}
    (gone, missing), (cut, unreadable) = data.skipped_files
    assert (gone, missing) == (str(tmp_path / "gone.png"), "no such file")
    assert cut == str(tmp_path / "cut.png") and "truncated" in unreadable.lower()
    [warning] = caught.list
    assert re.search(
        r"skipped: 1 missing images, 1 unreadable images; the first: .*gone\.png \(no such "
        r"file\); .*cut\.png \(.*\); all 2, with their reasons, are listed in ",
        str(warning.message),
    )
    assert _log(warning) == data.skipped_files
    assert os.path.dirname(re.search(r"listed in (\S+)", str(warning.message)).group(1)) == str(
        tmp_path / "tmp"
    )


def test_many_skipped_files_give_one_warning_naming_the_first_and_a_log_of_all(tmp_path):
    gone = [f"gone_{i}.png" for i in range(5)]
    lines = ["image,caption", "a.png,red", *(f"{name},blue" for name in gone)]
    load = manifest("captions.csv", "\n".join(lines).encode())(tmp_path)
    with pytest.warns(UserWarning) as caught:
        load()
    [warning] = caught.list
    message = str(warning.message)
    assert all(name in message for name in gone[:3]) and gone[3] not in message
    assert "and 2 more; all 5, with their reasons, are listed in" in message
    assert [os.path.basename(path) for path, _ in _log(warning)] == gone


def test_a_cache_keeps_the_skipped_files_and_warns_once_on_reading(tmp_path):
    _image(tmp_path / "a.png")
    _bytes(tmp_path / "captions.csv", b"image,caption\na.png,red\ngone.png,blue\n")
    kwargs = dict(manifest=str(tmp_path / "captions.csv"), image_size=8, verbose=False)
    cache = tmp_path / "cache.npz"
    with pytest.warns(UserWarning) as built:
        first = folder.load(**kwargs, cache=cache)
    with pytest.warns(UserWarning) as read:
        again = folder.load(**kwargs, cache=cache)
    assert len(built.list) == len(read.list) == 1
    assert "(from the cache" in str(read.list[0].message)
    assert (
        again.skipped_files == first.skipped_files == [(str(tmp_path / "gone.png"), "no such file")]
    )
    assert _log(read.list[0]) == first.skipped_files


def test_when_nothing_loads_the_error_names_the_log_of_every_file(tmp_path):
    items = [collection.Item(str(tmp_path / f"gone_{i}.png"), ["a caption"]) for i in range(4)]
    with pytest.raises(
        ValueError, match=r"None of the 4 images .* and 1 more; all 4, .* listed in"
    ):
        collection.read_items(items, 8, verbose=False)


def test_the_decoding_helper_keeps_every_character_and_names_its_source():
    text = "a café circle\n\u2028 \U0001f600"
    for raw in (text.encode(), codecs.BOM_UTF8 + text.encode(), text.encode("utf-16")):
        assert collection.decode_text(raw, "x") == text
    with pytest.raises(ValueError, match=r"^a caption of img\.jpg is not UTF-8"):
        collection.decode_text(LATIN1, "a caption of img.jpg")
