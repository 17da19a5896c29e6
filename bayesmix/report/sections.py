"""The content of a fit's report: one function per section, from the result's DataTree.

Sections are built from the blocks of :mod:`bayesmix.report.render` (which renders and
escapes them) and the figures of :mod:`bayesmix.report.figures`. Nothing here writes
markup or files.
"""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesmix.data.provenance import data_fingerprint, package_versions
from bayesmix.diagnostics.checks import ESS_MIN, R_HAT_MAX
from bayesmix.diagnostics.ranks import RANK_ALPHA, RANK_MAX_DRAWS
from bayesmix.model.spec import Priors
from bayesmix.report import render as r
from bayesmix.report import reproduce as rep
from bayesmix.report.beyond import extension_text, modes_blocks
from bayesmix.report.figures import PPC_DRAWS, PPC_MAX_POINTS, render_figures
from bayesmix.report.render import number as _f

if TYPE_CHECKING:
    from bayesmix.posterior.fitted import Fitted

__all__ = ["build_document"]

#: Checks of the diagnostics table: name, criterion, and words found only in its problem.
_CHECKS = (
    ("r_hat", f"\N{LESS-THAN OR EQUAL TO} {R_HAT_MAX} for every quantity", "r_hat"),
    (
        "effective sample size",
        f"bulk and tail \N{GREATER-THAN OR EQUAL TO} {ESS_MIN}",
        "effective",
    ),
    ("divergences", "none after tuning", "divergent"),
    ("chains in one mode", "no chain far from the others", "chain(s)"),
    (
        "rank uniformity",
        f"multi-chain rank test p \N{GREATER-THAN OR EQUAL TO} {RANK_ALPHA} / number of "
        "parameters (the rank plots)",
        "rank distributions",
    ),
)


def _attr_json(result: Fitted, key: str) -> dict[str, Any]:
    return dict(json.loads(result.idata.attrs.get(key, "{}")))


def _cell(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    return _f(v) if isinstance(v, float | np.floating) else str(v)


def _frame_table(frame: Any, index_name: str) -> r.Table:
    header = (index_name, *(str(c) for c in frame.columns))
    rows = tuple(
        (str(i), *(_cell(v) for v in row))
        for i, row in zip(frame.index, frame.itertuples(index=False), strict=True)
    )
    return r.Table(header, rows)


def _data_section(result: Fitted) -> tuple[r.Section, list[r.Alert]]:
    y = result.data
    sha = data_fingerprint(y)
    recorded = str(result.idata.attrs.get("bayesmix_data_sha256", sha))
    rows = [("n", str(y.size))] + [
        (name, _f(fn(y), 6)) for name, fn in (("min", np.min), ("max", np.max))
    ]
    rows += [("mean", _f(np.mean(y), 6)), ("sd", _f(np.std(y), 6)), ("SHA-256", recorded)]
    alerts = []
    if recorded != sha:
        alerts.append(
            r.Alert("fail", "The data do not match the fingerprint recorded at fit time")
        )
    note = r.Text(
        "sd is the population standard deviation (ddof=0), as used to scale the priors. "
        "The SHA-256 fingerprint is of the observations as float64 bytes."
    )
    return r.Section("data", "Data", (r.Table(("statistic", "value"), tuple(rows)), note)), alerts


#: Prior field -> (symbol, how the default is set), for the priors table.
_PRIOR_TEXT = {
    "weights_concentration": ("\N{GREEK SMALL LETTER ALPHA}", "1"),
    "mu_loc": ("m", "mean(y)"),
    "mu_scale": ("s", "2 sd(y)"),
    "sigma_scale": ("\N{GREEK SMALL LETTER TAU}", "sd(y)"),
    "sigma_prior": ("", "halfnormal"),
    "nu_shape": ("", "2"),
    "nu_rate": ("", "0.1"),
}
#: sigma_prior -> its distribution, as (HTML, plain text).
_SIGMA_PRIOR = {
    "halfnormal": ("HalfNormal(&tau;)", "HalfNormal(tau)"),
    "gamma": ("Gamma(shape 2, mean &tau;)", "Gamma(shape 2, mean tau)"),
    "invgamma": ("InverseGamma(shape 3, mean &tau;)", "InverseGamma(shape 3, mean tau)"),
}


def _model_section(result: Fitted) -> r.Section:
    p, k, n = result.spec.priors, result.n_components, result.data.size
    family = result.family
    prior = {
        name: value for name, value in p.to_dict().items() if name in p.fields_of(family.name)
    }
    params = ", ".join(f"{q.symbol}{{sub}}" for q in family.parameters)
    params_text = ", ".join(f"{q.name}_k" for q in family.parameters)
    sigma_family = str(prior.get("sigma_prior", "halfnormal"))
    sigma_html, sigma_text = _SIGMA_PRIOR.get(
        sigma_family, (f"{escape(sigma_family)}(&tau;)", f"{sigma_family}(tau)")
    )
    sub = "<sub>{}</sub>".format
    lines = (
        (
            f"y{sub('i')} ~ &sum;{sub('k=1')}<sup>{k}</sup> w{sub('k')} &middot; "
            f"{family.title}({params.format(sub=sub('k'))}), &nbsp; i = 1, &hellip;, {n}",
            f"y_i ~ sum_{{k=1}}^{k} w_k {family.title}({params_text}),  i = 1, ..., {n}",
        ),
        ("w ~ Dirichlet(&alpha;, &hellip;, &alpha;)", "w ~ Dirichlet(alpha, ..., alpha)"),
        (
            f"&mu;{sub('k')} ~ Normal(m, s)"
            + (f", &nbsp; &mu;{sub('1')} &lt; &hellip; &lt; &mu;{sub(str(k))}" if k > 1 else ""),
            "mu_k ~ Normal(m, s)" + (f",  mu_1 < ... < mu_{k}" if k > 1 else ""),
        ),
        (f"&sigma;{sub('k')} ~ {sigma_html}", f"sigma_k ~ {sigma_text}"),
        *family.prior_lines(p),
    )
    default = Priors().resolve(result.data, family.name).to_dict()
    rows = []
    for name, value in prior.items():
        symbol, rule = _PRIOR_TEXT.get(name, ("", "?"))
        shown = _f(value, 6) if isinstance(value, float) else str(value)
        source = f"default: {rule}" if value == default.get(name) else "set by the user"
        rows.append((symbol, name, shown, source))
    text = r.Text(
        "The component labels are summed out, so NUTS samples a smooth density; ordering "
        "the means removes label switching. Resolved priors (the Priors fields):"
    )
    table = r.Table(("symbol", "field", "value", "source"), tuple(rows))
    return r.Section("model", "Model and priors", (r.Math(lines), text, table))


def _sampler_section(result: Fitted) -> r.Section:
    s = result.sampler_settings
    if not s:
        return r.Section("sampler", "Sampler", (r.Text("No sampler settings were recorded."),))
    rows = tuple((str(key), str(value)) for key, value in s.items())
    return r.Section("sampler", "Sampler settings", (r.Table(("setting", "value"), rows),))


def _diagnostics(result: Fitted) -> tuple[r.Section, list[r.Alert]]:
    d = result.diagnostics
    t = d.table
    ess = t[["ess_bulk", "ess_tail"]].min(axis=1)
    values = (
        f"max {_f(t['r_hat'].max())} ({t['r_hat'].idxmax()})",
        f"min {ess.min():.0f} ({ess.idxmin()})",
        f"{d.divergences} of {d.n_samples} draws",
        f"chain(s) {list(d.stray_chains)} apart" if d.stray_chains else "all chains agree",
        f"min p {_f(t['rank_p'].min(), 2)} ({t['rank_p'].idxmin()})"
        if t["rank_p"].notna().any()
        else "not tested (one chain)",
    )
    rows, classes = [], []
    for (name, criterion, key), value in zip(_CHECKS, values, strict=True):
        advice = [p for p in d.problems if key in p]
        rows.append((name, criterion, value, "FAIL" if advice else "pass", " ".join(advice)))
        classes.append("fail" if advice else "pass")
    checks = r.Table(
        ("check", "criterion", "value", "status", "advice"), tuple(rows), tuple(classes)
    )
    per = t.assign(passed=t["passed"].map({True: "pass", False: "FAIL"}))
    per_table = _frame_table(per, "quantity")
    per_table = r.Table(
        per_table.header,
        per_table.rows,
        tuple("pass" if ok else "fail" for ok in t["passed"]),
    )
    if d.converged:
        alert = r.Alert("ok", "All convergence checks passed.")
    else:
        title = f"This fit did NOT converge: {len(d.problems)} ConvergenceWarning(s)."
        alert = r.Alert("fail", title, d.problems)
    alerts = [alert]
    if d.component_issues:
        title = f"{len(d.component_issues)} ComponentWarning(s): K is likely too large."
        alerts.append(r.Alert("fail", title, d.component_issues))
    failed = sum(c == "fail" for c in classes)
    verdict = r.Text(
        f"{failed} of {len(classes)} checks failed; see the advice column."
        if failed
        else "Every check passed."
    )
    k_eff = _f(d.effective_components, 3)
    note = r.Text(
        "Effective number of components (posterior mean of 1 / \N{N-ARY SUMMATION} w"
        f"\N{SUPERSCRIPT TWO}): {k_eff}. Per quantity (label-invariant quantities mean "
        "the same whatever the order of the components):"
    )
    extended = extension_text(result)
    blocks: tuple[r.Block, ...] = (
        verdict, *extended, checks, *alerts[1:], *modes_blocks(result), note, per_table,
    )  # fmt: skip
    return r.Section("diagnostics", "Convergence diagnostics", blocks), alerts


def _components_section(result: Fitted) -> r.Section:
    comp = result.components
    pct = f"{comp.attrs['ci_prob']:.0%}"
    labels = ("weight", *(q.label for q in result.family.parameters))
    rows = tuple(
        (
            str(k),
            *(
                f"{_f(comp.at[k, c])} [{_f(comp.at[k, c + '_lower'])}, "
                f"{_f(comp.at[k, c + '_upper'])}]"
                for c in labels
            ),
        )
        for k in comp.index
    )
    head = r.Text(f"Posterior mean and {pct} equal-tailed credible interval of each component.")
    table = r.Table(("component", *labels), rows)
    summary = _frame_table(result.summary(), "parameter")
    text = r.Text("ArviZ summary of the posterior (the numbers the reproduce code prints):")
    return r.Section("components", "Components", (head, table, text, summary))


#: Figure name -> (section id, section title, caption), in report order.
_FIGURE_TEXT = {
    "density": (
        "density",
        "Predictive density",
        "Histogram of the data, posterior predictive density with its 90% pointwise "
        "credible band, and each component's posterior mean weighted density.",
    ),
    "trace": (
        "trace",
        "Trace and rank plots",
        "Marginal posteriors (left) and traces (right); one line style per chain.",
    ),
    "rank": (
        "trace",
        "Trace and rank plots",
        "Rank plots: the ECDF of each chain's fractional ranks minus the uniform one; "
        "chains that sample the same posterior stay near zero together. Each panel prints "
        "the p-value of the multi-chain uniformity test and its level α, "
        f"{RANK_ALPHA} divided by the number of panels, so that the figure as a whole "
        f"raises a false alarm on at most {RANK_ALPHA:.0%} of well-mixed fits; the "
        "convergence checks above use the same test and level, and the points that drive "
        "a failure are marked.",
    ),
    "ppc": (
        "ppc",
        "Posterior predictive check",
        f"Density of the observed data (black) against {PPC_DRAWS} data sets replicated "
        "from evenly spaced posterior draws (seed 0): the black line should look like one "
        "of the blue ones.",
    ),
}


def _figure_sections(result: Fitted) -> list[r.Section]:
    blocks: dict[tuple[str, str], list[r.Block]] = {}
    for name, png in render_figures(result).items():
        sid, title, caption = _FIGURE_TEXT[name]
        if name == "ppc" and result.data.size > PPC_MAX_POINTS:
            caption += f" Compared on a random subset of {PPC_MAX_POINTS} observations."
        step = result.diagnostics.table.attrs["rank_step"]
        if name == "rank" and step > 1:
            caption += (
                f" Drawn and tested on every {step}th draw: the test assumes independent "
                "draws (on autocorrelated ones it rejects chains that mix well), so the "
                "step is the draws per chain over the smallest single-chain ESS, and at "
                f"least what keeps {RANK_MAX_DRAWS} draws per chain (its cost grows with "
                "the square of the draws)."
            )
        blocks.setdefault((sid, title), []).append(r.Figure(name, png, caption))
    return [r.Section(sid, title, tuple(b)) for (sid, title), b in blocks.items()]


def _environment_section(result: Fitted) -> r.Section:
    at_fit = _attr_json(result, "bayesmix_versions")
    now = package_versions()
    names = list(dict.fromkeys([*at_fit, *now]))
    same = all(at_fit.get(n) == now.get(n) for n in names)
    dash = "\N{EM DASH}"
    if same:
        table = r.Table(("package", "version (fit and report)"), tuple((n, now[n]) for n in names))
        text = r.Text("Versions recorded with the fit, the same as those that made this report.")
    else:
        rows = tuple((n, at_fit.get(n, dash), now.get(n, dash)) for n in names)
        classes = tuple("" if at_fit.get(n) == now.get(n) else "fail" for n in names)
        table = r.Table(("package", "at fit time", "making this report"), rows, classes)
        text = r.Text(
            "Versions recorded with the fit, and those of the machine that made this report; "
            "rows that differ are highlighted."
        )
    return r.Section("environment", "Environment", (text, table))


def _reproduce_section(result: Fitted) -> r.Section:
    inline = result.data.size <= rep.INLINE_DATA_MAX
    how = (
        "The data are written out in full at the end of the code."
        if inline
        else f"The data ({result.data.size} values) are too many to write out: the code "
        'reads them from the fit saved with res.save("fit.nc"); any copy of the data works '
        "if it passes the fingerprint check."
    )
    text = r.Text(
        f"{how} Saved as a script and run with the package versions of the Environment "
        "section, this code refits the model and prints the ArviZ summary of the "
        "Components section at full precision, the same to the last digit. Extra "
        "arguments passed through bm.fit to pymc.sample are not recorded, so they are not "
        "repeated here."
    )
    if not result.sampler_settings:
        text = r.Text(
            "No sampler settings were recorded with this fit, so the code below uses the "
            "defaults of bm.fit and a fresh seed: its numbers will differ."
        )
    return r.Section(
        "reproduce", "Reproduce", (text, r.Code(rep.reproduce_code(result), "reproduce-code"))
    )


def build_document(
    result: Fitted, *, title: str | None = None, timestamp: str | None = None
) -> r.Document:
    """Assemble the report of ``result`` as a :class:`~bayesmix._report_render.Document`."""
    data, data_alerts = _data_section(result)
    diagnostics, verdict = _diagnostics(result)
    sections = (
        data,
        _model_section(result),
        _sampler_section(result),
        diagnostics,
        _components_section(result),
        *_figure_sections(result),
        _environment_section(result),
        _reproduce_section(result),
    )
    k, n = result.n_components, result.data.size
    version = _attr_json(result, "bayesmix_versions").get("bayesmix", "(version not recorded)")
    meta = [
        f"{k}-component {result.family.adjective} mixture of {n} observations, "
        f"fitted with bayesmix {version}."
    ]
    if timestamp is not None:
        meta.append(f"Report made {timestamp}.")
    head = (
        title
        if title is not None
        else f"bayesmix report: {k}-component {result.family.adjective} mixture"
    )
    return r.Document(head, tuple(meta), sections, (*data_alerts, *verdict))
