"""The command line: fit, summary, report, compare, demo, and one-line errors for bad input."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import pathlib
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from helpers import fake_result, iid_posterior

import bayesmix as bm
from bayesmix.cli import commands as cli
from bayesmix.data.text import InputFileError, read_column

SMALL = ["--draws", "200", "--tune", "200", "--chains", "2", "--no-progressbar"]


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def run(args: list[str]) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def y() -> np.ndarray:
    return bm.simulate_mixture(120, [0.5, 0.5], [0.0, 6.0], [1.0, 1.0], random_seed=4)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, y: np.ndarray) -> pathlib.Path:
    d = tmp_path_factory.mktemp("cli")
    lines = ["id,value,other"] + [f"obs{i},{float(v)!r},{i % 3}" for i, v in enumerate(y)]
    (d / "data.csv").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture(scope="module")
def fitted(workdir: pathlib.Path) -> Run:
    """`bayesmix fit` once, in-process: the only NUTS fit of this module."""
    args = ["fit", str(workdir / "data.csv"), "--column", "value", "-k", "2", "--seed", "3"]
    args += ["--out", str(workdir / "fit.nc"), "--report", str(workdir / "fit.html"), *SMALL]
    return run(args)


# -- commands ------------------------------------------------------------------------------
def test_fit_saves_the_fit_and_report(fitted: Run, workdir: pathlib.Path, y: np.ndarray) -> None:
    assert fitted.code == 0, fitted.err
    assert "120 values from column 'value'" in fitted.out
    assert "fit saved to" in fitted.out and "report written to" in fitted.out
    assert "Traceback" not in fitted.err
    res = bm.load(workdir / "fit.nc")
    np.testing.assert_array_equal(res.data, y)  # repr() of the floats round-trips exactly
    assert res.n_components == 2
    s = res.sampler_settings
    assert (s["tune"], s["chains"], s["random_seed"]) == (200, 2, 3)
    # 2 x 200 draws fall short of ESS 400: the chains were continued (ess_target default)
    extension = json.loads(res.idata.attrs["bayesmix_extension"])
    assert extension["draws_asked"] == 200 and s["draws"] == extension["draws_reached"] > 200
    assert abs(res.components["mean"].iloc[1] - 6.0) < 0.5
    assert (workdir / "fit.html").read_text().lstrip().lower().startswith("<!doctype html")


def test_summary_prints_table_settings_and_diagnostics(fitted: Run, workdir: pathlib.Path) -> None:
    r = run(["summary", str(workdir / "fit.nc")])
    assert r.code == 0, r.err
    for text in ("posterior summary", "mu[1]", "random_seed 3", "SHA-256", "Diagnostics"):
        assert text in r.out


def test_report_of_the_saved_fit_equals_the_fresh_report(
    fitted: Run, workdir: pathlib.Path
) -> None:
    r = run(["report", str(workdir / "fit.nc"), "-o", str(workdir / "again.html"), "--markdown"])
    assert r.code == 0, r.err
    assert (workdir / "again.html").read_bytes() == (workdir / "fit.html").read_bytes()
    assert (workdir / "again.md").exists()


def test_report_defaults_to_the_fit_name(fitted: Run, workdir: pathlib.Path) -> None:
    copy = workdir / "copy.nc"
    copy.write_bytes((workdir / "fit.nc").read_bytes())
    assert run(["report", str(copy)]).code == 0
    assert (workdir / "copy.html").stat().st_size > 1000


def test_console_script_entry_point(fitted: Run, workdir: pathlib.Path) -> None:
    script = pathlib.Path(sys.executable).parent / "bayesmix"
    assert script.exists(), "console script missing: run `pip install -e .`"
    proc = subprocess.run(
        [str(script), "summary", str(workdir / "fit.nc")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "posterior summary" in proc.stdout


def test_compare_passes_candidates_and_options(
    fitted: Run, workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    best = bm.load(workdir / "fit.nc")

    class FakeComparison:
        best_k = 2

        def __init__(self) -> None:
            self.best = best

        def __repr__(self) -> str:
            return "<Comparison: selected K=2>"

    def fake_compare(data: np.ndarray, ks: list[int], **options: Any) -> FakeComparison:
        seen.update(data=data, ks=ks, options=options)
        return FakeComparison()

    # the module, not bm.compare (the package attribute is the function)
    monkeypatch.setattr(
        importlib.import_module("bayesmix.sampling.comparison"), "compare", fake_compare
    )
    out = workdir / "best.nc"
    args = ["compare", str(workdir / "data.csv"), "--column", "value", "-k", "1", "2", "3"]
    r = run([*args, "--seed", "9", "--out", str(out), "--family", "normal", "student_t", *SMALL])
    assert r.code == 0, r.err
    assert seen["ks"] == [1, 2, 3] and seen["options"]["family"] == ["normal", "student_t"]
    assert seen["options"]["random_seed"] == 9 and seen["options"]["draws"] == 200
    np.testing.assert_array_equal(seen["data"], best.data)
    assert "selected K=2" in r.out and "normal fit with K=2 saved to" in r.out
    assert bm.load(out).idata.identical(best.idata)


def test_demo_fits_galaxies_in_thousands_of_km_s(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's plumbing, with the NUTS fit replaced by a known posterior."""
    calls: list[tuple[np.ndarray, int, dict[str, Any]]] = []
    truth = ([0.09, 0.85, 0.06], [9.7, 21.4, 33.0], [0.4, 2.2, 0.9])

    def fake_fit(data: Any, n_components: int, **kwargs: Any) -> bm.MixtureResult:
        calls.append((np.asarray(data), n_components, kwargs))
        w, m, s = iid_posterior(np.random.default_rng(0), *truth, chains=2, draws=100)
        return fake_result(np.asarray(data, dtype=float), w, m, s)

    monkeypatch.setattr(bm, "fit", fake_fit)
    r = run(["demo", "--out-dir", str(tmp_path), "--seed", "7", "--no-progressbar"])
    assert r.code == 0, r.err
    data, k, kwargs = calls[0]
    np.testing.assert_array_equal(data, bm.datasets.load("galaxies").to_numpy() / 1000)
    assert k == 3 and kwargs["random_seed"] == 7
    assert "1000 km/s" in r.out and "Diagnostics" in r.out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-density.png", "fit.html", "fit.nc"]
    assert bm.load(tmp_path / "fit.nc").n_components == 3


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fit", "--help"]) == 0
    assert "--column" in capsys.readouterr().out


# -- errors: one line on stderr naming the file, the line and the problem; exit 2 ---------------
def _write(path: pathlib.Path, content: str | bytes) -> pathlib.Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("", [], "d.csv' is empty"),
        ("value\n", [], "has a header (line 1) but no data rows"),
        ("a,b\n1,2\n3,4\n", [], "has 2 columns ('a', 'b'), 2 of them numeric; choose one"),
        ("a,b\n1,2\n", ["--column", "c"], "has no column 'c'; available columns: 'a', 'b'"),
        ("value\n1\n2\nabc\n4\n", [], "line 4: column 'value' holds 'abc', which is not a number"),
        ("value\n1\n\n2\nNA\n", [], "line 5: column 'value' has a missing value ('NA')"),
        ("a,b\n1,2\n3\n", ["--column", "b"], "line 3: has 1 field(s) but column 'b' is field 2"),
        ("# note\nvalue\n1\ninf\n", [], "line 4: column 'value' holds 'inf'; use finite"),
        (b"value\n1\n\xff\xfe\n", [], "line 3: not UTF-8 text"),
        (b"\x89HDF\r\n\x1a\n\x00\x00", [], "is a binary file, not text"),
        ("value\n1\n2\n3\n", ["-k", "5"], "n_components=5 but only 3 observations"),
        ("value\n2\n2\n2\n", [], "is constant"),
    ],
    ids=[
        "empty",
        "header-only",
        "ambiguous-columns",
        "missing-column",
        "not-a-number",
        "missing-value",
        "short-row",
        "infinite",
        "not-utf8",
        "binary",
        "too-many-components",
        "constant",
    ],
)
def test_malformed_input(
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    content: str | bytes,
    extra: list[str],
    message: str,
) -> None:
    path = _write(tmp_path / "d.csv", content)
    k = [] if "-k" in extra else ["-k", "2"]
    code = cli.main(["fit", str(path), *k, *extra, "--out", str(tmp_path / "f.nc"), *SMALL])
    out, err = capsys.readouterr()
    assert code == 2
    assert message in err
    assert err.startswith("bayesmix fit: error: ") and err.count("\n") == 1
    assert "Traceback" not in err
    assert not (tmp_path / "f.nc").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["fit", "DATA"], "the following arguments are required: -k/--n-components"),
        (["fit", "DATA", "-k", "2", "--sampler", "gibbs"], "invalid choice: 'gibbs'"),
        (["fit", "DATA", "-k", "two"], "invalid int value: 'two'"),
        (["fit", "nope.csv", "-k", "2"], "'nope.csv': no such file"),
        (["fit", "DATA", "-k", "2", "--out", "no/dir/f.nc"], "folder 'no/dir' does not exist"),
        (["summary", "nope.nc"], "no such file: 'nope.nc'"),
        (["summary", "DATA"], r"d.csv' is not a NetCDF-4 (HDF5) file"),
        (["report", "DATA", "-o", "r.html"], "not a NetCDF-4 (HDF5) file"),
        (["demo", "--out-dir", "no/dir"], "output folder 'no/dir' does not exist"),
    ],
    ids=[
        "no-command",
        "no-k",
        "bad-sampler",
        "bad-int",
        "no-file",
        "no-out-dir",
        "summary-no-file",
        "summary-not-a-fit",
        "report-not-a-fit",
        "demo-no-dir",
    ],
)
def test_usage_errors(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "d.csv", "value\n1\n2\n5\n6\n")
    code = cli.main([str(tmp_path / "d.csv") if a == "DATA" else a for a in argv])
    out, err = capsys.readouterr()
    assert code == 2
    assert message in err
    assert err.startswith("bayesmix") and err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


# -- the file reader -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "column", "expected_name"),
    [
        ("d.tsv", "x\ty\n1\t10\n2\t20\n", "y", "y"),
        ("d.txt", "x;y\n1;10\n2;20\n", "y", "y"),
        ("d.txt", "10\n20\n", None, "1"),
        ("d.dat", "# comment\n\nspeed\n10\n\n20\n", None, "speed"),
        ("d.csv", "\ufeffid,y\na,10\nb,20\n", None, "y"),  # BOM; the one numeric column
        ("d.csv", "x,y\n1,10\n2,20\n", "2", "y"),  # position from 1
        ("d.txt", "1 10\n2   20\n", "2", "2"),  # spaces, no header
        ("d.csv", 'name,y\n"a, b",10\n"c",20\n', None, "y"),  # quoted delimiter
    ],
    ids=[
        "tsv",
        "semicolon",
        "plain",
        "comments-blanks",
        "bom-auto",
        "position",
        "spaces",
        "quoted",
    ],
)
def test_reader_formats(
    tmp_path: pathlib.Path, name: str, content: str, column: str | None, expected_name: str
) -> None:
    col = read_column(_write(tmp_path / name, content), column)
    np.testing.assert_array_equal(col.values, [10.0, 20.0])
    assert col.values.dtype == np.float64 and col.name == expected_name


def test_reader_line_numbers_count_quoted_newlines(tmp_path: pathlib.Path) -> None:
    path = _write(tmp_path / "d.csv", 'note,y\n"two\nlines",1\nok,x\n')
    with pytest.raises(InputFileError, match=r"line 4: column 'y' holds 'x'"):
        read_column(path, "y")


def _sampling(pid: int) -> bool:
    """True once nutpie's sampler threads run (named nutpie-worker-N), not before."""
    names = []
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread may end while we read
            names.append((task / "comm").read_text().strip())
    return any(n.startswith("nutpie-worker") for n in names)


@pytest.mark.skipif(not pathlib.Path("/proc/self/task").exists(), reason="reads /proc")
def test_ctrl_c_mid_sampling_exits_130_promptly_and_writes_nothing(
    tmp_path: pathlib.Path,
) -> None:
    # issue 19: SIGINT during a long fit was ignored; the run exited 0 and wrote both files
    y = bm.simulate_mixture(3000, [0.5, 0.5], [-2.0, 2.0], [1.0, 1.0], random_seed=1)
    data = tmp_path / "d.csv"
    np.savetxt(data, y, header="v", comments="")
    out, report = tmp_path / "fit.nc", tmp_path / "fit.html"
    args = ["fit", str(data), "--column", "v", "-k", "2", "--draws", "500000"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bayesmix", *args, "--out", str(out), "--report", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a test run started in the background of a non-interactive
        # shell ignores SIGINT, and the child would inherit that (the signal is lost)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        # nutpie names its sampler threads when sampling begins (after the model
        # compiles: ~15 s cold); 4 x 500000 draws then take minutes. (Counting threads
        # instead was fooled by those that imports and compilation start.)
        deadline = time.monotonic() + 240
        while not _sampling(proc.pid):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.2)
        time.sleep(1.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
        waited = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert waited < 5.0
    assert "bayesmix fit: interrupted" in stderr and "Traceback" not in stderr
    assert "fit saved" not in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]  # not even a temp file
