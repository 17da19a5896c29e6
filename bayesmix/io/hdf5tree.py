"""DataTrees that HDF5 can hold exactly, and a checksum of their content (for bayesmix.io.netcdf).

h5netcdf cannot write attributes that are bool, None, dict or list, nor text variables
holding ``None``. :func:`encode_tree` stores such attributes as JSON strings (listing them
in ``bayesmix_json_attrs``) and ``None`` (or NaN) in text as ``""`` (flagged by
``bayesmix_empty_is_none``); :func:`decode_tree` undoes both (``""`` comes back as
``None``, which xarray turns into NaN next to text, as it did before saving), so a tree
survives a file round trip unchanged. Object variables that are not text are dropped,
and named in their group's ``bayesmix_dropped_variables`` attribute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["checksum", "decode_tree", "encode_tree"]

#: Per group or variable: names of attributes stored as JSON strings.
_JSON_ATTRS = "bayesmix_json_attrs"
#: Per variable: a text variable whose "" entries were None.
_NONE_ATTR = "bayesmix_empty_is_none"
#: Per group: variables that could not be stored, and why.
_DROPPED_ATTR = "bayesmix_dropped_variables"


def _encode_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    encoded = []
    for key, value in attrs.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, str) or (
            isinstance(value, int | float) and not isinstance(value, bool)
        ):
            out[str(key)] = value
        else:
            if isinstance(value, np.ndarray):
                value = value.tolist()
            out[str(key)] = json.dumps(value, default=_json_default)
            encoded.append(str(key))
    if encoded:
        out[_JSON_ATTRS] = json.dumps(encoded)
    return out


def _json_default(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else str(value)


def _decode_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    out = {str(k): v.item() if isinstance(v, np.generic) else v for k, v in attrs.items()}
    for key in json.loads(out.pop(_JSON_ATTRS, "[]")):
        out[key] = json.loads(out[key])
    return out


def _encode_variable(var: xr.Variable) -> xr.Variable | None:
    """Return a copy HDF5 can write, or None if it cannot be stored faithfully."""
    attrs = _encode_attrs(var.attrs)
    values = var.values
    if values.dtype.kind == "O":
        # xarray itself may turn None in object arrays into NaN: both mean "no text".
        flat = ["" if v is None or (isinstance(v, float) and v != v) else v for v in values.flat]
        if not all(isinstance(v, str) for v in flat):
            return None
        values = np.array(flat, dtype=str)
        values = values.reshape(var.shape)
        attrs[_NONE_ATTR] = 1
    return xr.Variable(var.dims, values, attrs)


def _decode_variable(var: xr.Variable) -> xr.Variable:
    attrs = dict(var.attrs)
    values = var.values
    if attrs.pop(_NONE_ATTR, 0):
        flat = [None if v == "" else str(v) for v in values.ravel()]
        values = np.array(flat, dtype=object).reshape(var.shape)
    return xr.Variable(var.dims, values, _decode_attrs(attrs))


def _map_tree(
    tree: xr.DataTree,
    var_fn: Callable[[xr.Variable], xr.Variable | None],
    attrs_fn: Callable[[Mapping[Any, Any]], dict[str, Any]],
    skip: Collection[str] = (),
) -> xr.DataTree:
    """Return a new tree with ``var_fn`` applied to every variable, ``attrs_fn`` to attrs.

    Variables mapped to None are dropped and named in their node's attrs.
    """
    nodes: dict[str, xr.Dataset] = {}
    for node in tree.subtree:
        if node.path.strip("/").split("/")[0] in skip:
            continue
        ds = node.to_dataset(inherit=False)
        variables = {name: var_fn(var) for name, var in ds.variables.items()}
        kept = {n: v for n, v in variables.items() if v is not None}
        attrs = attrs_fn(node.attrs)
        if len(kept) < len(variables):
            dropped = sorted(str(n) for n in variables if n not in kept)
            attrs[_DROPPED_ATTR] = f"{dropped} (object values that are not text)"
        coords = {n: v for n, v in kept.items() if n in ds.coords}
        data = {n: v for n, v in kept.items() if n not in ds.coords}
        nodes[node.path] = xr.Dataset(data, coords=coords, attrs=attrs)
    return xr.DataTree.from_dict(nodes)


def checksum(tree: xr.DataTree, exclude: str) -> str:
    """Return a SHA-256 of a tree's content: attrs (but ``exclude``) and variables.

    It covers every node's attrs and every variable's name, dims, shape, attrs and values,
    and does not depend on how HDF5 returns text (fixed or variable length) or NaN.
    """
    h = hashlib.sha256()

    def attrs_bytes(attrs: Mapping[Any, Any]) -> bytes:
        plain = {
            str(k): v.item() if isinstance(v, np.generic) else v
            for k, v in attrs.items()
            if k != exclude
        }
        return json.dumps(plain, sort_keys=True).encode()

    for node in sorted(tree.subtree, key=lambda n: n.path):
        h.update(node.path.encode() + attrs_bytes(node.attrs))
        ds = node.to_dataset(inherit=False)
        for name in sorted(ds.variables, key=str):
            var = ds.variables[name]
            head = [str(name), [str(d) for d in var.dims], list(var.shape)]
            h.update(json.dumps(head).encode() + attrs_bytes(var.attrs))
            values = var.values
            if values.dtype.kind in "OUS":
                h.update(json.dumps([str(v) for v in values.ravel()]).encode())
                continue
            if values.dtype.kind == "f":
                values = np.where(np.isnan(values), np.nan, values)  # one NaN bit pattern
            little = values.dtype.newbyteorder("<")
            h.update(little.str.encode() + np.ascontiguousarray(values, dtype=little).tobytes())
    return h.hexdigest()


def encode_tree(tree: xr.DataTree, skip: Collection[str] = ()) -> xr.DataTree:
    """Return a copy of ``tree`` that h5netcdf can write, without the groups in ``skip``."""
    return _map_tree(tree, _encode_variable, _encode_attrs, skip)


def decode_tree(tree: xr.DataTree, drop_attrs: Collection[str] = ()) -> xr.DataTree:
    """Undo :func:`encode_tree` on a tree read from a file; drop the attrs ``drop_attrs``."""

    def decode_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
        return {k: v for k, v in _decode_attrs(attrs).items() if k not in drop_attrs}

    return _map_tree(tree, _decode_variable, decode_attrs)
