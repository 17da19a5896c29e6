"""The code in a report that reproduces a fit: same data, priors, settings and seed."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING, Any

from bayesmix.data.provenance import data_fingerprint
from bayesmix.posterior.modes import MODES_ATTR

if TYPE_CHECKING:
    from bayesmix.posterior.fitted import Fitted

__all__ = ["INLINE_DATA_MAX", "reproduce_code"]

#: Data with at most this many values are written into the code (about 20 characters
#: each: 40 kB for 2000); larger data are read back from the saved fit with ``bm.load``.
INLINE_DATA_MAX = 2000


def _py(value: Any) -> str:
    """Python source for a number or string, in the style of the code around it."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def reproduce_code(result: Fitted) -> str:
    """Python script that refits ``result``'s model to its data and prints the summary.

    The data are written out in full (as shortest round-trip reprs, so exactly) when there
    are at most :data:`INLINE_DATA_MAX` of them, otherwise read with ``bm.load("fit.nc")``;
    either way the script checks them against the fit's SHA-256 fingerprint. The fit's
    resolved priors and recorded sampler settings, seed included, are passed explicitly.
    """
    y, p = result.data, result.spec.priors
    if y.size <= INLINE_DATA_MAX:
        values = textwrap.fill(
            ", ".join(repr(float(v)) for v in y) + ",",
            88,
            initial_indent=" " * 8,
            subsequent_indent=" " * 8,
            break_on_hyphens=False,
            break_long_words=False,
        )
        data = f"    return np.array([\n{values}\n    ])"
    else:
        data = '    return bm.load("fit.nc").data  # the fit of this report, saved as fit.nc'
    fields = p.fields_of(result.spec.family)
    priors = "".join(f"            {k}={_py(v)},\n" for k, v in p.to_dict().items() if k in fields)
    args = [f"n_components={result.n_components}", f"priors=bm.Priors(\n{priors}        )"]
    if result.spec.family != "normal":
        args.insert(1, f"family={result.spec.family!r}")
    keys = ("draws", "tune", "chains", "cores", "target_accept", "random_seed", "sampler")
    s = result.sampler_settings
    args += [f"{k}={_py(s[k])}" for k in keys if s.get(k) is not None]
    # draws are the final ones (those an extension reached, if any): the same fit is
    # that many draws with no extension, whatever ess_target the fit was made with
    args.append("ess_target=None")
    if MODES_ATTR in result.idata.attrs:  # the exploration can move the fit's chains
        args.append("explore=True")
    call = "".join(f"        {a},\n" for a in args)
    return f"""import hashlib

import numpy as np

import bayesmix as bm


def main() -> None:
    y = data()
    sha = hashlib.sha256(np.asarray(y, dtype=np.float64).tobytes()).hexdigest()
    expected = "{data_fingerprint(y)}"
    assert sha == expected, "these are not the data of the report"
    res = bm.fit(
        y,
{call}    )
    print(res.summary(round_to="none").to_string())


def data() -> np.ndarray:
    \"\"\"The {y.size} observations of the report.\"\"\"
{data}


# The guard lets PyMC start its worker processes safely when this runs as a script.
if __name__ == "__main__":
    main()
"""
