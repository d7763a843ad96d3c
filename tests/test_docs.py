"""The documentation: README.md and the pages under docs/.

Checks that the README stays short (at most 200 lines), that every relative link and image in
README.md and docs/**/*.md points to a file that exists (and every #anchor to a heading of
that page, by GitHub's slug rule), that every docs page can be reached from the README, and
that the README's Python example runs as written and again with its image size changed.
"""

import re
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 200

# The README marks its runnable example with an HTML comment that starts with this text; the
# first ```python block after it is the example.
EXAMPLE_MARKER = "<!-- example"
EXAMPLE_SIZE_LINE = "image_size = {}"
EXAMPLE_SIZE = 32  # as written in the README
SCALED_SIZE = 64  # shapes.load draws 32 to 256 px; DCGAN-cls takes powers of two from 16

FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1[^\S\n]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
MD_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.I)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def doc_pages():
    return sorted(DOCS.rglob("*.md"))


def markdown_files():
    return [README, *doc_pages()]


def prose(text):
    """The text without fenced code blocks and inline code, where links are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def link_targets(path):
    """Every link and image target written in a Markdown file, in order."""
    text = prose(path.read_text(encoding="utf-8"))
    return [m.group(1) for m in MD_LINK.finditer(text)] + [
        m.group(1) for m in HTML_LINK.finditer(text)
    ]


def is_external(target):
    return re.match(r"^(https?:|mailto:)", target, re.I) is not None


def slug(heading):
    """GitHub's anchor for a heading: link text kept, lowercase, punctuation other than '-'
    and '_' dropped, spaces turned into '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    """The anchors GitHub gives the headings of a Markdown file (repeats get -1, -2, ...)."""
    seen, result = {}, set()
    for match in HEADING.finditer(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def resolve(source, target):
    """(file the target names, its #fragment or None); the file is None for external links."""
    if is_external(target):
        return None, None
    file_part, _, fragment = target.partition("#")
    file = source if not file_part else (source.parent / file_part).resolve()
    return file, fragment or None


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines; keep it to {MAX_README_LINES} and move details "
        "into a page under docs/"
    )


def test_relative_links_and_images_exist():
    broken = []
    for path in markdown_files():
        for target in link_targets(path):
            file, fragment = resolve(path, target)
            if file is None:
                continue
            where = f"{path.relative_to(ROOT)}: {target}"
            if not file.exists():
                broken.append(f"{where} (no such file)")
            elif fragment and file.suffix == ".md" and fragment not in anchors(file):
                broken.append(f"{where} (no heading with that anchor)")
    assert not broken, "Broken links:\n" + "\n".join(broken)


def test_every_docs_page_is_reachable_from_the_readme():
    reached, todo = {README}, [README]
    while todo:
        page = todo.pop()
        for target in link_targets(page):
            file, _ = resolve(page, target)
            if file is not None and file.suffix == ".md" and file.exists() and file not in reached:
                reached.add(file)
                todo.append(file)
    unreached = [str(p.relative_to(ROOT)) for p in doc_pages() if p.resolve() not in reached]
    assert not unreached, f"Not linked from README.md or from a page it reaches: {unreached}"


def test_every_docs_page_starts_with_a_title():
    untitled = [
        str(p.relative_to(ROOT))
        for p in doc_pages()
        if not p.read_text(encoding="utf-8").startswith("# ")
    ]
    assert not untitled, f"Pages that do not start with an H1: {untitled}"


def readme_example():
    text = README.read_text(encoding="utf-8")
    start = text.find(EXAMPLE_MARKER)
    assert start >= 0, f"README.md has no {EXAMPLE_MARKER} ... --> marker before its example"
    block = re.search(r"^```python[^\S\n]*\n(.*?)^```", text[start:], re.S | re.M)
    assert block, f"No ```python block follows {EXAMPLE_MARKER} in README.md"
    code, size_line = block.group(1), EXAMPLE_SIZE_LINE.format(EXAMPLE_SIZE)
    assert code.count(size_line) == 1, f"The example should set its size once: '{size_line}'"
    return code


@pytest.mark.parametrize("image_size", [EXAMPLE_SIZE, SCALED_SIZE], ids=["as_written", "scaled"])
def test_readme_python_example_runs(image_size, tmp_path, monkeypatch):
    """The example runs as written, and still runs when only its image_size is changed: the
    data and the model both follow that one variable."""
    code = readme_example().replace(
        EXAMPLE_SIZE_LINE.format(EXAMPLE_SIZE), EXAMPLE_SIZE_LINE.format(image_size)
    )
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme_example"}
    exec(compile(code, "README.md (Python example)", "exec"), namespace)
    assert namespace["image_size"] == image_size
    samples = namespace["samples"]
    assert isinstance(samples, np.ndarray) and samples.dtype == np.uint8
    assert len(samples) > 0 and samples.shape[1:] == (image_size, image_size, 3)
