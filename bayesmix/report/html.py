"""Self-contained, reproducible reports of a fit, and :func:`show_versions`.

:func:`write_report` writes one HTML file (figures embedded, no network needed) that says
what was fitted to which data, how it was sampled, whether the sampler converged, what the
posterior is, and how to get the same numbers again. Everything in it is computed from the
result's DataTree, so a report is the same for a fresh fit and for one loaded from a file,
and two reports of one fit are byte-identical.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from bayesmix.data.provenance import package_versions
from bayesmix.io import replacing
from bayesmix.report import render as r
from bayesmix.report.sections import build_document

if TYPE_CHECKING:
    from bayesmix.posterior.fitted import Fitted

__all__ = ["show_versions", "write_report"]

#: Packages shown by show_versions() beyond those recorded with every fit.
_EXTRA_PACKAGES = ("arviz-plots", "pandas", "matplotlib", "h5netcdf", "scikit-learn")


def write_report(
    result: Fitted,
    path: str | Path,
    *,
    markdown: bool = False,
    title: str | None = None,
    timestamp: str | None = None,
) -> Path:
    """Write a self-contained HTML report of a fit (and optionally a Markdown one).

    The report has the data summary and fingerprint, the model and resolved priors, the
    sampler settings and seed, convergence checks with advice (failed checks are shown
    at the top), the components, the predictive density, trace and rank plots, a
    posterior predictive check, package versions, and code that reproduces the fit.
    It holds no date or random id unless ``timestamp`` is given, so two reports of one
    fit are byte-identical.

    Parameters
    ----------
    result : MixtureResult
        A fitted mixture (fresh or loaded from a file); it is not modified.
    path : str or pathlib.Path
        Where to write the HTML file; its folder must exist. An existing file is replaced.
    markdown : bool, default False
        Also write a Markdown report beside it (``path`` with suffix ``.md``) whose
        figures are PNG files in a folder ``<stem>_files``: Markdown viewers such as
        GitHub's do not show images embedded as ``data:`` URIs.
    title : str, optional
        Heading of the report; default names the model.
    timestamp : str, optional
        Shown under the heading, e.g. ``datetime.now().isoformat()``.

    Returns
    -------
    pathlib.Path
        The path of the HTML file.

    Raises
    ------
    FileNotFoundError
        If the folder of ``path`` does not exist.
    ValueError
        If ``path`` ends in ``.md`` (the HTML would overwrite the Markdown).

    See Also
    --------
    MixtureResult.report : the same, as a method.

    Examples
    --------
    >>> import bayesmix as bm
    >>> y = bm.simulate_mixture(300, [0.6, 0.4], [1.0, 5.0], [1.0, 2.0], random_seed=0)
    >>> res = bm.fit(y, n_components=2, random_seed=1, progressbar=False)  # doctest: +SKIP
    >>> from bayesmix.report.html import write_report
    >>> write_report(res, "fit.html", markdown=True)  # doctest: +SKIP
    PosixPath('fit.html')
    >>> res.report("fit.html")  # the same, as a method  # doctest: +SKIP
    PosixPath('fit.html')
    """
    out = Path(path)
    if out.suffix.lower() == ".md":
        raise ValueError(f"path={str(path)!r} ends in .md; give the HTML path, e.g. 'fit.html'")
    if not out.parent.is_dir():
        raise FileNotFoundError(
            f"path={str(path)!r}: folder {str(out.parent)!r} does not exist; create it first"
        )
    doc = build_document(result, title=title, timestamp=timestamp)
    _write_whole(out, r.to_html(doc).encode("utf-8"))
    if markdown:
        image_dir = out.parent / f"{out.stem}_files"
        text, images = r.to_markdown(doc, quote(image_dir.name))
        image_dir.mkdir(exist_ok=True)
        for name, png in images.items():
            _write_whole(image_dir / name, png)
        _write_whole(out.with_suffix(".md"), text.encode("utf-8"))
    return out


def _write_whole(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` whole or not at all (never a partial file)."""
    with replacing(path) as tmp:
        tmp.write_bytes(content)


def show_versions() -> None:
    """Print the versions of Python, bayesmix and the packages it builds on.

    Paste the output into bug reports. The versions of Python and of the packages a fit
    depends on are also recorded with every fit and printed in its report.

    Examples
    --------
    >>> import bayesmix as bm
    >>> bm.show_versions()  # doctest: +SKIP
    """
    import importlib.metadata

    info = {
        "python": sys.version.replace("\n", " "),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    info.update({k: v for k, v in package_versions().items() if k != "python"})
    for name in _EXTRA_PACKAGES:
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = "not installed"
    width = max(map(len, info))
    print("\nINSTALLED VERSIONS\n------------------")
    for name, version in info.items():
        print(f"{name:<{width}}: {version}")
