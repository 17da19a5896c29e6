"""The notebooks in notebooks/ run from top to bottom without errors or stray warnings.

Each notebook is copied to a temporary folder and executed there in fast mode
(``BAYESMIX_NOTEBOOK_FAST=1``: short chains, fewer K), so the committed outputs, which come
from a full run, are left untouched. The kernel is this interpreter (``sys.executable``),
through a kernelspec written for the test, so the notebooks run against the bayesmix
under test whatever Jupyter kernels the machine has installed.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import sys
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "bayesmix-notebook-test"
#: Seconds one cell may take; fast mode needs a fraction of this.
CELL_TIMEOUT = 600


@pytest.fixture
def kernel_env(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """Install a kernelspec for this interpreter and set the kernel's environment."""
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bayesmix test kernel",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))  # searched first
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no jupyter_core deprecation warning
    monkeypatch.setenv("BAYESMIX_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # files the notebooks write land here
    work = tmp_path / "notebooks"
    work.mkdir()
    return work


def _stray_warnings(nb: Any) -> list[str]:
    """Python warnings printed by any cell (they arrive on stderr)."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                if "Warning" in out["text"]:
                    found.append(f"{cell.source.splitlines()[0]!r}: {out['text'].strip()}")
    return found


@pytest.mark.parametrize(
    "name",
    [
        "01_quickstart.ipynb",
        "02_galaxies.ipynb",
        # 03 starts three command-line processes (each imports PyMC and compiles): ~90 s.
        # Save, load, report and the CLI have their own tests; this keeps the default
        # suite under 10 minutes. `make test-slow` runs it.
        pytest.param("03_reports_and_reuse.ipynb", marks=pytest.mark.slow),
        "04_student_t_outliers.ipynb",
        "05_many_fits.ipynb",
    ],
)
def test_notebook_runs(name: str, kernel_env: pathlib.Path) -> None:
    path = kernel_env / name
    shutil.copy(NOTEBOOKS / name, path)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(kernel_env)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    assert not _stray_warnings(nb), _stray_warnings(nb)


def test_every_notebook_is_tested() -> None:
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == [
        "01_quickstart.ipynb",
        "02_galaxies.ipynb",
        "03_reports_and_reuse.ipynb",
        "04_student_t_outliers.ipynb",
        "05_many_fits.ipynb",
    ]
