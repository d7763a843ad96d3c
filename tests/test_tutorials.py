"""Every notebook in tutorials/ runs to the end on a real kernel, at the sizes its QUICK
switch sets."""

import glob
import os
import sys

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "tutorials", "*.ipynb")))


def test_there_are_tutorials():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.once  # each kernel runs on TensorFlow, whatever the pass
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_tutorial_runs(path, tmp_path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    monkeypatch.setenv("GAN_ZOO_QUICK", "1")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    # the kernel must be this environment's Python, whatever PATH says
    monkeypatch.setenv(
        "PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    )
    NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    errors = [
        o
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
