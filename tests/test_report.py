"""HTML / Markdown reports: every section, embedded images, determinism, reproducibility."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
import warnings
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from helpers import fake_result, iid_posterior

import bayesmix as bm
from bayesmix.data.provenance import data_fingerprint
from bayesmix.report import reproduce as _report_reproduce
from bayesmix.report import sections as _report_sections
from bayesmix.report.figures import FIGURES as REPORT_FIGURES
from bayesmix.report.html import write_report

#: Section ids and headings, in report order.
SECTIONS = {
    "data": "Data",
    "model": "Model and priors",
    "sampler": "Sampler settings",
    "diagnostics": "Convergence diagnostics",
    "components": "Components",
    "density": "Predictive density",
    "trace": "Trace and rank plots",
    "ppc": "Posterior predictive check",
    "environment": "Environment",
    "reproduce": "Reproduce",
}
#: Figure name -> section it belongs to.
FIGURES = {"density": "density", "trace": "trace", "rank": "trace", "ppc": "ppc"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: A tiny valid PNG, to stand in for the figures where they are not under test.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class Report(HTMLParser):
    """What a reader sees in a report: sections, tables, images, alerts, code blocks."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.section: str | None = None
        self.sections: list[tuple[str, str]] = []
        self.tags: list[str] = []
        self.images: list[tuple[str | None, dict[str, str | None]]] = []
        self.alerts: list[tuple[str | None, str, list[str]]] = []  # section, class, items
        self.code: dict[str, str] = {}
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.rows_class: dict[str, list[str]] = {}
        self._h2 = False
        self._code_id: str | None = None
        self._alert_depth = 0
        self._li: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.section = a["id"]
            self.sections.append((str(a["id"]), ""))
        elif tag == "h2":
            self._h2 = True
        elif tag == "img":
            self.images.append((self.section, a))
        elif tag == "code" and a.get("id"):
            self._code_id = a["id"]
            self.code[str(a["id"])] = ""
        elif tag == "div" and "alert" in (a.get("class") or "").split():
            self.alerts.append((self.section, str(a["class"]).split()[1], []))
            self._alert_depth = 1
        elif tag == "div" and self._alert_depth:
            self._alert_depth += 1
        elif tag == "li" and self._alert_depth:
            self._li = []
        elif tag == "table":
            self.tables.setdefault(str(self.section), []).append([])
        elif tag == "tr":
            self.tables[str(self.section)][-1].append([])
            self.rows_class.setdefault(str(self.section), []).append(a.get("class") or "")
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.section = None
        elif tag == "h2":
            self._h2 = False
        elif tag == "code":
            self._code_id = None
        elif tag == "div" and self._alert_depth:
            self._alert_depth -= 1
        elif tag == "li" and self._li is not None:
            self.alerts[-1][2].append("".join(self._li))
            self._li = None
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[str(self.section)][-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._h2:
            sid, title = self.sections[-1]
            self.sections[-1] = (sid, title + data)
        if self._code_id is not None:
            self.code[self._code_id] += data
        if self._li is not None:
            self._li.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def table(self, section: str, index: int = 0) -> dict[str, list[str]]:
        """The ``index``-th table of a section, as first cell -> the other cells."""
        return {row[0]: row[1:] for row in self.tables[section][index]}


def png_of(src: str | None) -> bytes:
    assert src is not None and src.startswith("data:image/png;base64,"), str(src)[:40]
    return base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)


@pytest.fixture(scope="module")
def small_fit() -> bm.MixtureResult:
    """A real, deliberately short NUTS fit (it fails the ESS check at 2 x 200 draws)."""
    y = bm.simulate_mixture(200, [0.6, 0.4], [1.0, 5.0], [1.0, 2.0], random_seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        return bm.fit(
            y,
            n_components=2,
            draws=200,
            tune=200,
            chains=2,
            cores=1,
            random_seed=11,
            sampler="pymc",
            progressbar=False,
            ess_target=None,  # kept short: the report of a fit that fails
        )


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report")


@pytest.fixture(scope="module")
def small_report(small_fit: bm.MixtureResult, report_dir: Path) -> Path:
    return write_report(small_fit, report_dir / "fit.html", markdown=True)


@pytest.fixture(scope="module")
def parsed(small_report: Path) -> Report:
    return Report(small_report.read_text(encoding="utf-8"))


@pytest.fixture
def no_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip drawing the figures where they are not under test (it takes seconds)."""
    monkeypatch.setattr(
        _report_sections, "render_figures", lambda result: dict.fromkeys(FIGURES, TINY_PNG)
    )


def converged_fake() -> bm.MixtureResult:
    rng = np.random.default_rng(5)
    y = bm.simulate_mixture(150, [0.5, 0.5], [0.0, 6.0], [1.0, 1.0], random_seed=5)
    return fake_result(y, *iid_posterior(rng, [0.5, 0.5], [0.0, 6.0], [1.0, 1.0]))


def stray_fake() -> bm.MixtureResult:
    """Chain 3 sits in another mode, and chain 0 has divergences."""
    rng = np.random.default_rng(6)
    y = bm.simulate_mixture(150, [0.5, 0.5], [0.0, 6.0], [1.0, 1.0], random_seed=6)
    w, m, s = iid_posterior(rng, [0.5, 0.5], [0.0, 6.0], [1.0, 1.0])
    m[3] += 3.0
    diverging = np.zeros(w.shape[:2], dtype=bool)
    diverging[0, :7] = True
    return fake_result(y, w, m, s, diverging=diverging)


# -- structure ------------------------------------------------------------------------
def test_report_has_every_section_in_order(parsed: Report) -> None:
    assert parsed.sections == list(SECTIONS.items())
    assert "script" not in parsed.tags  # self-contained and inert: no scripts
    assert "link" not in parsed.tags  # no external stylesheets


def test_every_image_is_an_embedded_png_in_its_section(parsed: Report, small_report: Path) -> None:
    found = {}
    for section, attrs in parsed.images:
        png = png_of(attrs["src"])
        assert png.startswith(PNG_SIGNATURE)
        pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 200 and pixels.shape[1] > 300
        assert (int(str(attrs["width"])), int(str(attrs["height"]))) == pixels.shape[1::-1]
        assert attrs["alt"]
        found[section] = found.get(section, 0) + 1
    assert found == {"density": 1, "trace": 2, "ppc": 1}
    assert re.search(r"\b(src|href)=\"(https?:)?//", small_report.read_text()) is None


def test_data_model_sampler_sections_hold_the_fit(
    parsed: Report, small_fit: bm.MixtureResult
) -> None:
    y = small_fit.data
    data = parsed.table("data")
    assert data["n"] == ["200"]
    assert data["SHA-256"] == [data_fingerprint(y)]
    assert float(data["max"][0]) == pytest.approx(y.max(), rel=1e-5)
    assert float(data["min"][0].replace("\N{MINUS SIGN}", "-")) == pytest.approx(y.min(), rel=1e-5)
    priors = {row[1]: row[2] for row in parsed.tables["model"][0][1:]}
    assert float(priors["mu_loc"]) == pytest.approx(small_fit.spec.priors.mu_loc, rel=1e-5)
    assert float(priors["sigma_scale"]) == pytest.approx(small_fit.spec.priors.sigma_scale, 1e-5)
    sampler = parsed.table("sampler")
    assert sampler["random_seed"] == ["11"] and sampler["draws"] == ["200"]
    assert sampler["sampler"] == ["pymc"]
    components = parsed.table("components")
    assert [k for k in components if k != "component"] == ["0", "1"]
    summary = parsed.table("components", 1)
    assert float(summary["mu[1]"][0]) == pytest.approx(small_fit.components["mean"][1], 1e-3)


def test_environment_lists_the_versions_recorded_at_fit(parsed: Report) -> None:
    env = parsed.table("environment")
    assert env["bayesmix"] == [bm.__version__]
    assert env["pymc"] == [__import__("pymc").__version__]
    assert {"python", "numpy", "arviz", "pytensor"} <= set(env)


def test_environment_shows_where_the_reporting_machine_differs(
    no_figures: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    res = converged_fake()
    monkeypatch.setattr(
        _report_sections, "package_versions", lambda: {"python": "3.99.0", "numpy": "9.9"}
    )
    report = Report(write_report(res, tmp_path / "r.html").read_text())
    env = report.table("environment")
    assert env["package"] == ["at fit time", "making this report"]
    assert env["numpy"] == ["\N{EM DASH}", "9.9"]  # fake fit recorded no versions


# -- diagnostics ----------------------------------------------------------------------
def test_failed_checks_are_shown_at_the_top_with_their_advice(
    parsed: Report, small_fit: bm.MixtureResult
) -> None:
    problems = small_fit.diagnostics.problems
    assert problems, "the short fit was meant to fail the ESS check"
    section, kind, items = parsed.alerts[0]
    assert section is None and kind == "fail"  # above the first section
    assert items == list(problems)
    checks = parsed.table("diagnostics")
    failed = {name: cells for name, cells in checks.items() if cells[2] == "FAIL"}
    assert "effective sample size" in failed
    advice = " ".join(cells[3] for cells in failed.values())
    assert all(p in advice for p in problems)  # every warning lands on its check


def test_stray_chain_and_divergences_fail_their_checks(no_figures: None, tmp_path: Path) -> None:
    res = stray_fake()
    d = res.diagnostics
    assert d.stray_chains == (3,) and d.divergences == 7
    report = Report(write_report(res, tmp_path / "bad.html").read_text())
    assert report.alerts[0][1] == "fail" and report.alerts[0][2] == list(d.problems)
    checks = report.table("diagnostics")
    assert checks["divergences"][2] == "FAIL" and "divergent" in checks["divergences"][3]
    assert checks["chains in one mode"][2] == "FAIL"
    assert "[3]" in checks["chains in one mode"][1]


def test_converged_fit_says_so(no_figures: None, tmp_path: Path) -> None:
    res = converged_fake()
    assert res.converged
    report = Report(write_report(res, tmp_path / "ok.html").read_text())
    assert [a[1] for a in report.alerts] == ["ok"]
    assert all(
        cells[2] == "pass"
        for name, cells in report.table("diagnostics").items()
        if name != "check"
    )


# -- determinism and reproducibility ----------------------------------------------------
def test_two_reports_of_one_fit_are_byte_identical(
    small_fit: bm.MixtureResult, small_report: Path, tmp_path: Path
) -> None:
    attrs, groups = dict(small_fit.idata.attrs), set(small_fit.idata.children)
    again = write_report(small_fit, tmp_path / "again.html", markdown=True)
    assert again.read_bytes() == small_report.read_bytes()
    for png in (small_report.parent / "fit_files").iterdir():
        assert (tmp_path / "again_files" / png.name).read_bytes() == png.read_bytes()
    assert dict(small_fit.idata.attrs) == attrs and set(small_fit.idata.children) == groups
    stamped = write_report(small_fit, tmp_path / "stamped.html", timestamp="2030-01-02 03:04")
    assert stamped.read_bytes() != small_report.read_bytes()
    assert "Report made 2030-01-02 03:04." in stamped.read_text()


def test_reproduce_code_run_as_a_script_prints_the_same_summary(
    parsed: Report, small_fit: bm.MixtureResult, tmp_path: Path
) -> None:
    code = parsed.code["reproduce-code"]
    script = tmp_path / "reproduce.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    expected = small_fit.summary(round_to="none").to_string()
    assert done.stdout.rstrip().endswith(expected.rstrip())  # after the progress bar


def test_inline_data_round_trip_exactly(no_figures: None, tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    y = np.concatenate([rng.normal(0, 1, 60) / 3.0, [1e-300, -2.5e17, 0.1 + 0.2]])
    w, m, s = iid_posterior(rng, [0.5, 0.5], [-1.0, 1.0], [1.0, 1.0], chains=2, draws=50)
    res = fake_result(y, w, m, s)
    code = Report(write_report(res, tmp_path / "r.html").read_text()).code["reproduce-code"]
    namespace: dict[str, object] = {"__name__": "not_main"}  # defines data(), fits nothing
    exec(compile(code, "reproduce.py", "exec"), namespace)
    data = namespace["data"]()  # type: ignore[operator]
    assert data.tobytes() == y.tobytes()


def test_large_data_are_read_from_the_saved_fit(
    no_figures: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_report_reproduce, "INLINE_DATA_MAX", 100)
    res = converged_fake()  # 150 observations
    code = Report(write_report(res, tmp_path / "r.html").read_text()).code["reproduce-code"]
    assert 'bm.load("fit.nc").data' in code and "np.array([" not in code
    assert data_fingerprint(res.data) in code
    res.save(tmp_path / "fit.nc")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "not_main"}  # defines data(), fits nothing
    exec(compile(code, "reproduce.py", "exec"), namespace)
    data = namespace["data"]()  # type: ignore[operator]
    assert data.tobytes() == res.data.tobytes()


# -- markdown, escaping, API --------------------------------------------------------------
def test_markdown_references_its_png_files(small_report: Path, parsed: Report) -> None:
    md_path = small_report.with_suffix(".md")
    md = md_path.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", md)
    assert sorted(Path(link).name for link in links) == sorted(f"{f}.png" for f in FIGURES)
    for link in links:
        png = (md_path.parent / link).read_bytes()
        assert png.startswith(PNG_SIGNATURE)
    assert "data:image" not in md
    for title in SECTIONS.values():
        assert f"\n## {title}\n" in md
    assert f"```python\n{parsed.code['reproduce-code'].rstrip()}\n```" in md


def test_user_strings_are_escaped(no_figures: None, tmp_path: Path) -> None:
    res = converged_fake()
    evil = '<script>alert("x")</script> & <b>'
    path = write_report(res, tmp_path / "r.html", markdown=True, title=evil, timestamp=evil)
    text = path.read_text()
    report = Report(text)
    assert "script" not in report.tags and "b" not in report.tags
    assert "&lt;script&gt;" in text
    assert "<script>" not in path.with_suffix(".md").read_text()


def test_result_report_method_writes_the_same_file(no_figures: None, tmp_path: Path) -> None:
    res = converged_fake()
    out = res.report(tmp_path / "m.html")
    assert out == tmp_path / "m.html"
    assert out.read_bytes() == write_report(res, tmp_path / "f.html").read_bytes()


def test_bad_paths_are_refused(tmp_path: Path) -> None:
    res = converged_fake()
    with pytest.raises(ValueError, match=r"ends in \.md"):
        write_report(res, tmp_path / "fit.md")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(res, tmp_path / "missing" / "fit.html")


def test_show_versions_prints_the_stack(capsys: pytest.CaptureFixture[str]) -> None:
    bm.show_versions()
    out = capsys.readouterr().out
    lines = dict(
        (k.strip(), v.strip())
        for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)
    )
    assert lines["bayesmix"] == bm.__version__
    assert lines["numpy"] == np.__version__
    assert lines["pymc"] == __import__("pymc").__version__
    assert {"python", "pytensor", "arviz", "scipy", "matplotlib", "platform"} <= set(lines)


def _rank_panels(result: bm.MixtureResult) -> dict[str, tuple[float, float, int]]:
    """Panel title -> (p-value, level α, points marked) of the report's rank figure.

    The marks are arviz_plots' own verdict (points behind a p-value below its level),
    the printed p-value the convergence checks'; they must tell the same story.
    """
    fig = REPORT_FIGURES["rank"](result)
    panels = {}
    for ax in fig.axes:
        printed = [t.get_text() for t in ax.texts if t.get_text()[:2] in ("p=", "p<")]
        if printed:
            found = re.fullmatch(r"p[=<](\S+) \(α=(\S+)\)", printed[0])
            assert found, printed[0]
            marked = sum(len(c.get_offsets()) for c in ax.collections)
            p = 0.0 if printed[0].startswith("p<") else float(found[1])
            panels[ax.get_title()] = (p, float(found[2]), marked)
    plt.close(fig)
    return panels


def test_rank_figure_and_convergence_checks_agree_on_a_converged_fit(
    quickstart_fit: bm.MixtureResult,
) -> None:
    # issue 19: the figure flagged panels of a fit the banner called converged. Now each
    # panel is tested at 0.01 / 6 (the checks' level) on the draws the checks test, so a
    # panel fails exactly when the checks do. This fit's smallest p is ~0.008: at 0.01 per
    # panel it was flagged, the false alarm one well-mixed fit in ~17 shows.
    d = quickstart_fit.diagnostics
    assert d.converged, d.problems
    assert (d.table["r_hat"] <= 1.01).all()
    panels = _rank_panels(quickstart_fit)
    assert len(panels) == 6
    assert [a for _, a, _ in panels.values()] == [pytest.approx(0.01 / 6, rel=0.02)] * 6
    assert all(p >= a and marked == 0 for p, a, marked in panels.values()), panels
    checked = np.sort(d.table["rank_p"].dropna().to_numpy())
    np.testing.assert_allclose(sorted(p for p, _, _ in panels.values()), checked, rtol=0.05)


def test_rank_plots_and_r_hat_both_fail_a_badly_mixed_posterior() -> None:
    rng = np.random.default_rng(19)
    y = rng.normal(size=200)
    w, m, s = iid_posterior(rng, [0.5, 0.5], [-2.0, 2.0], [1.0, 1.0])
    m[0] += 0.1  # one chain sits 2 posterior sds away in both means
    bad = fake_result(y, w, m, s)
    assert not bad.diagnostics.converged
    assert any("rank distributions differ" in p for p in bad.diagnostics.problems)
    r_hat = bad.summary()["r_hat"]
    assert r_hat.filter(like="mu").min() > 1.01
    panels = _rank_panels(bad)
    assert len(panels) == 6
    failed = sorted(name for name, (p, a, _) in panels.items() if p < a)
    marked = sorted(name for name, (_, _, n) in panels.items() if n > 0)
    assert failed == marked and len(failed) == 2, panels
    assert all(name.startswith("mu") for name in failed)
    flagged = bad.diagnostics.table["rank_p"] < 0.01 / 6
    assert sorted(flagged[flagged].index) == ["mu[0]", "mu[1]"]


def test_rank_test_thins_long_chains_to_its_budget() -> None:
    # the test's cost is quadratic in the draws per chain (4 x 20000 took minutes), so
    # these near-independent 5000 draws are tested on every 5th, as the caption says
    import arviz_stats  # noqa: F401  (the .azstats accessor)
    import xarray as xr

    rng = np.random.default_rng(5)
    w, m, s = iid_posterior(rng, [0.5, 0.5], [-1.0, 1.0], [1.0, 1.0], draws=5000)
    res = fake_result(rng.normal(size=100), w, m, s)
    table = res.diagnostics.table
    assert table.attrs["rank_step"] == 5
    thinned = xr.DataArray(m[:, ::5, :].transpose(2, 0, 1), dims=("k", "chain", "draw"))
    ranks = thinned.azstats.compute_ranks(dim=["chain", "draw"], relative=True)
    expected = ranks.azstats.mchain_uniformity_test(dim=["chain", "draw"])[0]
    np.testing.assert_allclose(table.loc[["mu[0]", "mu[1]"], "rank_p"], expected, rtol=1e-12)
    sections = _report_sections._figure_sections(res)
    captions = [
        b.caption for sec in sections for b in sec.blocks if getattr(b, "name", "") == "rank"
    ]
    assert len(captions) == 1 and "every 5th draw" in captions[0]


def _ar1(rng: np.random.Generator, rho: float, shape: tuple[int, ...]) -> np.ndarray:
    """Stationary AR(1) series along the draw axis (1), unit variance."""
    e = rng.normal(size=shape)
    x = np.empty(shape)
    x[:, 0] = e[:, 0]
    for t in range(1, shape[1]):
        x[:, t] = rho * x[:, t - 1] + np.sqrt(1 - rho**2) * e[:, t]
    return x


def test_rank_test_holds_for_autocorrelated_chains_that_mix() -> None:
    # issue 19's p = 0.00 on every panel of a converged fit: the test assumes independent
    # draws, and MCMC draws are autocorrelated. Four chains of one AR(1) process (lag-one
    # correlation 0.8, ESS ~ 1/9 of the draws) sample the same distribution; tested on
    # all draws, 83% of such quantities get p < 0.01. Thinned by the single-chain ESS,
    # none of the six may fail the family-wise test.
    rng = np.random.default_rng(8)
    shape = (4, 1000, 2)
    w = np.exp(np.log([0.5, 0.5]) + 0.05 * _ar1(rng, 0.8, shape))
    w /= w.sum(axis=-1, keepdims=True)
    m = np.sort(np.array([-2.0, 2.0]) + 0.05 * _ar1(rng, 0.8, shape), axis=-1)
    s = np.exp(0.05 * _ar1(rng, 0.8, shape))
    res = fake_result(rng.normal(size=200), w, m, s)
    d = res.diagnostics
    assert d.table.attrs["rank_step"] >= 9
    assert not any("rank distributions" in p for p in d.problems), d.problems
    panels = _rank_panels(res)
    assert all(p >= a and marked == 0 for p, a, marked in panels.values()), panels


def test_rank_panels_keep_their_y_axis() -> None:
    # issue 19: the panels had no y ticks, so a chain's deviation could not be read
    rng = np.random.default_rng(3)
    res = fake_result(
        rng.normal(size=100), *iid_posterior(rng, [0.5, 0.5], [-1.0, 1.0], [1.0, 1.0])
    )
    fig = REPORT_FIGURES["rank"](res)
    panels = [ax for ax in fig.axes if ax.has_data()]
    assert len(panels) == 6
    assert all(ax.yaxis.get_visible() and len(ax.get_yticks()) >= 3 for ax in panels)
    plt.close(fig)
