"""Property-based tests of the file entry points: ``load`` and the command line."""

from __future__ import annotations

import contextlib
import io
import pathlib
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bayesmix as bm
from bayesmix.cli import commands as cli


class ReachedFit(Exception):  # noqa: N818 - a signal, not an error
    """Raised by the stub fit: the input made it through every check."""


@given(st.binary(max_size=2048))
@settings(max_examples=100, deadline=None)
def test_load_of_arbitrary_bytes_is_a_clear_error(payload: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "fit.nc"
        path.write_bytes(payload)
        with pytest.raises(bm.FitFileError) as info:
            bm.load(path)
        assert "fit.nc" in str(info.value)


cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-1000, 1000).map(str),
    st.sampled_from(["", " ", "NA", "nan", "abc", '"1,5"', "1e309", "-", "1.2.3", "\t"]),
    st.text(alphabet="0123456789.,;-e x\"'", max_size=6),
)
rows = st.lists(st.lists(cells, min_size=1, max_size=3), max_size=8)


@given(
    header=st.one_of(
        st.none(), st.lists(st.sampled_from(["y", "x", "waiting", ""]), min_size=1, max_size=3)
    ),
    body=rows,
    delimiter=st.sampled_from([",", "\t", ";", " "]),
    column=st.one_of(st.none(), st.sampled_from(["y", "waiting", "1", "2", "9", "zz"])),
    k=st.sampled_from(["1", "2", "3", "0", "-1", "x"]),
)
@settings(max_examples=150, deadline=None)
def test_cli_fit_input_ends_in_a_message_or_a_valid_fit(
    header: list[str] | None,
    body: list[list[str]],
    delimiter: str,
    column: str | None,
    k: str,
    monkeypatch_module: pytest.MonkeyPatch,
) -> None:
    lines = ([delimiter.join(header)] if header else []) + [delimiter.join(r) for r in body]
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "data.csv"
        path.write_text("\n".join(lines) + "\n")
        argv = ["fit", str(path), "-k", k, "--out", str(pathlib.Path(tmp) / "fit.nc")]
        if column is not None:
            argv += ["--column", column]
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                code = cli.main(argv)
        except ReachedFit as reached:
            y, n_components = reached.args
            assert y.ndim == 1 and np.isfinite(y).all() and y.size >= n_components >= 1
            return
        except SystemExit as exit_:  # argparse usage errors
            code = exit_.code
    err = stderr.getvalue()
    assert code == 2, err
    assert "Traceback" not in err and err.strip()


@pytest.fixture(scope="module")
def monkeypatch_module() -> pytest.MonkeyPatch:
    """Replace the sampler by a stub that checks its input and signals ``ReachedFit``."""
    patch = pytest.MonkeyPatch()

    def stub_fit(data: object, n_components: int, **_: object) -> None:
        y = bm.as_observations(data)
        from bayesmix.data.validate import check_n_components

        raise ReachedFit(y, check_n_components(n_components, y.size))

    patch.setattr(bm, "fit", stub_fit)
    yield patch
    patch.undo()
