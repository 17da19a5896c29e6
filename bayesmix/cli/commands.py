"""The ``bayesmix`` command: fit a mixture to a file, summarise, report, compare, demo.

Examples of use::

    bayesmix fit faithful.csv --column waiting -k 2 --seed 1 --out fit.nc --report fit.html
    bayesmix summary fit.nc
    bayesmix report fit.nc -o fit.html --markdown
    bayesmix compare faithful.csv --column waiting -k 1 2 3 4
    bayesmix demo

Exit status: 0 on success, 2 for a usage or input error (bad option, unreadable or
malformed file), 1 if sampling or writing failed. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

__all__ = ["main"]

#: Exit status for usage and input errors (as argparse uses).
USAGE_ERROR = 2


class _CommandError(Exception):
    def __init__(self, message: str, code: int = USAGE_ERROR) -> None:
        super().__init__(" ".join(message.split()))
        self.code = code


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, raised rather than printed and exited."""

    def error(self, message: str) -> NoReturn:
        raise _CommandError(f"{self.prog}: error: {message} (see `{self.prog} --help`)")


@contextlib.contextmanager
def _warnings_to_stderr(prog: str) -> Iterator[None]:
    """Print each warning as one line ``<prog>: warning: ...`` instead of Python's format."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        print(f"{prog}: warning: {' '.join(str(w.message).split())}", file=sys.stderr)


def _progressbar(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progressbar is None else bool(args.progressbar)


def _existing_parent(prog: str, path: str, what: str) -> pathlib.Path:
    out = pathlib.Path(path)
    if not out.parent.is_dir():
        raise _CommandError(
            f"{prog}: error: {what} {path!r}: folder {str(out.parent)!r} does not exist"
        )
    if out.is_dir():
        raise _CommandError(f"{prog}: error: {what} {path!r} is a folder; give a file name")
    return out


def _read(prog: str, args: argparse.Namespace) -> Any:
    from bayesmix.data.text import InputFileError, read_column

    try:
        col = read_column(args.file, args.column)
    except InputFileError as err:
        raise _CommandError(f"{prog}: error: {err}") from None
    n = col.values.size
    print(f"{n} value{'s' if n != 1 else ''} from column {col.name!r} of {str(col.path)!r}")
    return col.values


def _fit_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "family": args.family,
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "target_accept": args.target_accept,
        "random_seed": args.seed,
        "sampler": args.sampler,
        "progressbar": _progressbar(args),
        "ess_target": args.ess_target or None,
        "max_draws": args.max_draws,
        "explore": args.explore,
    }


def _call(prog: str, fn: Any, *fn_args: Any, **fn_kwargs: Any) -> Any:
    """Run a fitting function, turning expected failures into one-line errors."""
    from bayesmix.sampling import SamplingError

    try:
        with _warnings_to_stderr(prog):
            return fn(*fn_args, **fn_kwargs)
    except (ValueError, TypeError, ImportError) as err:
        raise _CommandError(f"{prog}: error: {err}") from None
    except SamplingError as err:
        raise _CommandError(f"{prog}: error: {err}", code=1) from None


def _load(prog: str, path: str) -> Any:
    import bayesmix as bm

    try:
        return bm.load(path)
    except (OSError, ValueError) as err:
        raise _CommandError(f"{prog}: error: {err}") from None


def _write_report(prog: str, result: Any, path: pathlib.Path, markdown: bool) -> None:
    try:
        from bayesmix.report.html import write_report
    except ImportError as err:
        raise _CommandError(f"{prog}: error: reports are not available ({err})", 1) from None
    try:
        written = write_report(result, path, markdown=markdown)
    except (OSError, ValueError) as err:
        raise _CommandError(f"{prog}: error: cannot write the report: {err}", 1) from None
    print(f"report written to {str(written)!r}")
    if markdown:
        print(f"Markdown report written to {str(written.with_suffix('.md'))!r}")


def _cmd_fit(args: argparse.Namespace) -> int:
    import bayesmix as bm

    prog = "bayesmix fit"
    out = _existing_parent(prog, args.out, "--out")
    report = None if args.report is None else _existing_parent(prog, args.report, "--report")
    y = _read(prog, args)
    res = _call(prog, bm.fit, y, args.n_components, **_fit_options(args))
    print(res)
    print()
    print(res.diagnostics)
    try:
        res.save(out)
    except OSError as err:
        raise _CommandError(f"{prog}: error: cannot write {args.out!r}: {err}", 1) from None
    print(f"fit saved to {str(out)!r}")
    if report is not None:
        _write_report(prog, res, report, args.markdown)
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    res = _load("bayesmix summary", args.fit)
    s = res.sampler_settings
    print(f"{args.fit}:")
    print(res)
    print(f"\npriors: {res.spec.priors.to_dict()}")
    print(
        f"sampler: {s.get('sampler')}, {s.get('chains')} chains x {s.get('draws')} draws "
        f"after {s.get('tune')} tuning steps, target_accept {s.get('target_accept')}, "
        f"random_seed {s.get('random_seed')}"
    )
    print(f"data: {res.data.size} observations, SHA-256 {res.idata.attrs['bayesmix_data_sha256']}")
    with _warnings_to_stderr("bayesmix summary"):
        table = res.summary()
    print("\nposterior summary:")
    print(table.to_string())
    print()
    print(res.diagnostics)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    prog = "bayesmix report"
    default = pathlib.Path(args.fit).with_suffix(".html")
    out = _existing_parent(prog, str(default) if args.output is None else args.output, "--output")
    res = _load(prog, args.fit)
    _write_report(prog, res, out, args.markdown)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from bayesmix.sampling.comparison import AUTO_COMPONENTS, compare

    prog = "bayesmix compare"
    out = None if args.out is None else _existing_parent(prog, args.out, "--out")
    y = _read(prog, args)
    ks = AUTO_COMPONENTS if args.n_components is None else args.n_components
    comparison = _call(prog, compare, y, ks, **_fit_options(args))
    print(comparison)
    if out is not None:
        comparison.best.save(out)
        best = comparison.best
        print(f"{best.family.adjective} fit with K={best.n_components} saved to {str(out)!r}")
    return 0


def _cmd_fit_many(args: argparse.Namespace) -> int:
    import pandas as pd

    from bayesmix.sampling.many import fit_many

    prog = "bayesmix fit-many"
    try:
        frame = pd.read_csv(args.file, sep=None, engine="python")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise _CommandError(
            f"{prog}: error: cannot read {args.file!r} as a table: {err}"
        ) from None
    column = args.column
    if column is not None and column.isdigit() and column not in frame.columns:
        if not 1 <= int(column) <= frame.shape[1]:
            raise _CommandError(
                f"{prog}: error: --column {column}: the file has {frame.shape[1]} columns"
            )
        column = str(frame.columns[int(column) - 1])
    options = _fit_options(args)
    del options["progressbar"]  # fit_many prints its own progress, on a terminal or not
    seed = options.pop("random_seed")
    print(f"{len(frame)} rows of {str(args.file)!r}, grouped by {args.by!r}")
    fits = _call(
        prog, fit_many, frame, args.n_components, by=args.by, column=column, out=args.out,
        n_workers=args.workers, random_seed=seed, progressbar=args.progressbar is not False,
        **options,
    )  # fmt: skip
    print(fits)
    shown = ["status", "max_r_hat", "min_ess", "divergences", "error"]
    print(fits.convergence[shown].to_string())
    print(f"fits and index.json written to {str(args.out)!r}")
    if fits.failures:
        print(
            f"{prog}: {len(fits.failures)} group(s) failed; see the error column", file=sys.stderr
        )
        return 1
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from bayesmix.cli.demo import run

    try:
        run(
            args.out_dir,
            seed=args.seed,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            progressbar=args.progressbar,
        )
    except FileNotFoundError as err:
        raise _CommandError(f"bayesmix demo: error: {err}") from None
    return 0


def _sampler_options() -> _Parser:
    from bayesmix.sampling import SAMPLERS

    p = _Parser(add_help=False)
    p.add_argument("--column", help="column name (or position from 1) holding the data")
    p.add_argument("--seed", type=int, default=None, help="random_seed (default: drawn, recorded)")
    p.add_argument("--draws", type=int, default=1000, help="draws per chain (default 1000)")
    p.add_argument("--tune", type=int, default=1000, help="tuning steps per chain (default 1000)")
    p.add_argument("--chains", type=int, default=4, help="number of chains (default 4)")
    p.add_argument("--target-accept", type=float, default=0.9, help="NUTS target (default 0.9)")
    p.add_argument("--sampler", choices=SAMPLERS, default="auto", help="NUTS implementation")
    p.add_argument(
        "--ess-target", type=float, default=400,
        help="continue the chains until every ESS reaches this (default 400; 0: off)",
    )  # fmt: skip
    p.add_argument(
        "--max-draws", type=int, default=None,
        help="budget of that extension, draws over all chains (default 4 x draws x chains)",
    )  # fmt: skip
    p.add_argument(
        "--explore", action="store_true",
        help="also look for other posterior modes and weigh them (see docs/choosing_k.md)",
    )  # fmt: skip
    p.add_argument(
        "--progressbar",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress (default: when stderr is a terminal)",
    )
    return p


def _family_option(p: argparse.ArgumentParser, several: bool) -> None:
    from bayesmix.families import FAMILIES

    what = "families to compare (default normal; e.g. --family normal student_t)"
    p.add_argument(
        "--family",
        choices=sorted(FAMILIES),
        nargs="+" if several else None,
        default=["normal"] if several else "normal",
        help=what
        if several
        else "component family (default normal; student_t is robust to outliers)",
    )


def _parser() -> _Parser:
    from bayesmix.cli.demo import add_arguments

    parser = _Parser(prog="bayesmix", description="Bayesian finite normal mixtures (PyMC).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_sampler_options()]
    data_help = "CSV/TSV file, or text with one number per line"

    p = sub.add_parser("fit", parents=common, help="fit a mixture to a column of a file")
    p.add_argument("file", help=data_help)
    p.add_argument("-k", "--n-components", type=int, required=True, help="number of components")
    p.add_argument("--out", default="fit.nc", help="NetCDF file to save the fit (default fit.nc)")
    p.add_argument("--report", help="also write an HTML report to this file")
    p.add_argument("--markdown", action="store_true", help="with --report: also a Markdown one")
    _family_option(p, several=False)
    p.set_defaults(handler=_cmd_fit)

    p = sub.add_parser("summary", help="print the summary of a saved fit")
    p.add_argument("fit", help="a fit saved by `bayesmix fit` or bm.save")
    p.set_defaults(handler=_cmd_summary)

    p = sub.add_parser("report", help="write the HTML report of a saved fit")
    p.add_argument("fit", help="a fit saved by `bayesmix fit` or bm.save")
    p.add_argument("-o", "--output", help="HTML file (default: the fit's name with .html)")
    p.add_argument("--markdown", action="store_true", help="also write a Markdown report")
    p.set_defaults(handler=_cmd_report)

    p = sub.add_parser(
        "compare", parents=common, help="compare numbers of components (and families) by LOO"
    )
    p.add_argument("file", help=data_help)
    p.add_argument("-k", "--n-components", type=int, nargs="+", help="candidates (default 1-6)")
    p.add_argument("--out", help="save the selected fit to this NetCDF file")
    _family_option(p, several=True)
    p.set_defaults(handler=_cmd_compare)

    p = sub.add_parser(
        "fit-many", parents=common, help="fit a mixture per group of a long table (on dask)"
    )
    p.add_argument("file", help="CSV/TSV file with a group column and a value column")
    p.add_argument("--by", required=True, help="the column naming each row's group")
    p.add_argument("-k", "--n-components", type=int, required=True, help="number of components")
    p.add_argument("--out", default="fits", help="folder for the fits and index (default fits)")
    p.add_argument("--workers", type=int, help="local dask workers (default: one per core)")
    _family_option(p, several=False)
    p.set_defaults(handler=_cmd_fit_many)

    p = sub.add_parser("demo", help="fit 3 components to the bundled galaxy velocities")
    add_arguments(p)
    p.set_defaults(handler=_cmd_demo)
    return parser


def _command(argv: Sequence[str] | None) -> str:
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    return words[0] if words else ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bayesmix`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for a usage or input error, 1 if sampling or
        writing failed (for ``fit-many``: if any group failed), 130 if interrupted
        (Ctrl-C: files are written whole or not at all). Errors are printed to stderr
        as one line, without a traceback.

    Examples
    --------
    >>> from bayesmix.cli.commands import main
    >>> main(["summary", "fit.nc"])  # doctest: +SKIP
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        return int(args.handler(args))
    except _CommandError as err:
        print(err, file=sys.stderr)
        return err.code
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        # files are written to a temporary name and renamed, so none is left half-done
        print(
            f"bayesmix {_command(argv)}: interrupted; every file reported above as written "
            "is complete, and no other file was written",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
