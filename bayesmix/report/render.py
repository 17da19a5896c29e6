"""The building blocks of a report and their rendering to HTML and Markdown.

A report is a :class:`Document`: sections of plain blocks (text, tables, figures, code,
alerts, maths). :func:`to_html` renders it as one self-contained page (inline CSS, images
as base64 PNG ``data:`` URIs, no scripts, no network); :func:`to_markdown` renders it as
Markdown with each image as a separate PNG file. Every string from a block is escaped
here, so content code never writes markup (maths lines bring their own, already escaped).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from html import escape
from typing import Any

__all__ = [
    "Alert",
    "Code",
    "Document",
    "Figure",
    "Math",
    "Section",
    "Table",
    "Text",
    "to_html",
    "to_markdown",
]


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table of plain-text cells; ``row_classes`` ("pass", "fail", "") tint rows."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Figure:
    """A PNG image with a caption; ``name`` is its file name stem in Markdown output."""

    name: str
    png: bytes
    caption: str


@dataclass(frozen=True)
class Code:
    """A block of code; ``id`` makes it findable in the HTML (e.g. to run it)."""

    text: str
    id: str = ""


@dataclass(frozen=True)
class Alert:
    """A highlighted box: ``kind`` "fail" (red) or "ok" (green), a title and items."""

    kind: str
    title: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Math:
    """Display maths: one (escaped HTML, plain Unicode text) pair per line."""

    lines: tuple[tuple[str, str], ...]


Block = Text | Table | Figure | Code | Alert | Math


@dataclass(frozen=True)
class Section:
    """A titled section; ``id`` is its HTML anchor."""

    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    """A whole report: title, lines under it, alerts at the top, and sections."""

    title: str
    meta: tuple[str, ...]
    sections: tuple[Section, ...]
    alerts: tuple[Alert, ...] = field(default=())


CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
margin:0;background:#f6f8fa}
main{max-width:1040px;margin:0 auto;padding:24px 28px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.25em;margin:28px 0 8px;
border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#59636e;margin:0}
nav ol{columns:2;margin:12px 0;padding-left:1.4em}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:8px 0;font-size:.92em}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.pass td:first-child{border-left:4px solid #1a7f37}tr.fail{background:#ffebe9}
tr.fail td:first-child{border-left:4px solid #cf222e}
.alert{border:2px solid;border-radius:6px;padding:8px 14px;margin:14px 0}
.alert.fail{border-color:#cf222e;background:#ffebe9}
.alert.ok{border-color:#1a7f37;background:#dafbe1}
.alert strong{display:block}
.math{font-family:"STIX Two Math","Cambria Math","Times New Roman",serif;font-size:1.25em;
background:#f6f8fa;padding:8px 14px;border-radius:6px}
.math div{margin:2px 0}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:10px 12px;
overflow:auto;max-height:46em;font-size:.85em}
figure{margin:12px 0}figure img{max-width:100%;height:auto;display:block}
figcaption{color:#59636e;font-size:.9em}
"""


def number(v: Any, digits: int = 4) -> str:
    """Format a number for a report cell: ``digits`` significant digits, a true minus."""
    return f"{float(v):.{digits}g}".replace("-", "\N{MINUS SIGN}")


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels from a PNG's IHDR chunk."""
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _is_number(cell: str) -> bool:
    try:
        float(cell.replace("\N{MINUS SIGN}", "-"))
    except ValueError:
        return False
    return True


def _html_block(block: Block) -> str:
    if isinstance(block, Text):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Table):
        head = "".join(f"<th>{escape(h)}</th>" for h in block.header)
        rows = []
        for i, row in enumerate(block.rows):
            cls = block.row_classes[i] if i < len(block.row_classes) else ""
            attr = f' class="{escape(cls)}"' if cls else ""
            cells = "".join(
                f'<td class="num">{escape(c)}</td>' if _is_number(c) else f"<td>{escape(c)}</td>"
                for c in row
            )
            rows.append(f"<tr{attr}>{cells}</tr>")
        body = "\n".join(rows)
        return f'<div class="scroll"><table>\n<tr>{head}</tr>\n{body}\n</table></div>'
    if isinstance(block, Figure):
        width, height = _png_size(block.png)
        data = base64.b64encode(block.png).decode("ascii")
        return (
            f'<figure id="fig-{escape(block.name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{escape(block.caption)}" width="{width}" height="{height}">'
            f"<figcaption>{escape(block.caption)}</figcaption></figure>"
        )
    if isinstance(block, Code):
        attr = f' id="{escape(block.id)}"' if block.id else ""
        return f'<pre><code{attr} class="language-python">{escape(block.text)}</code></pre>'
    if isinstance(block, Alert):
        items = "".join(f"<li>{escape(item)}</li>" for item in block.items)
        items = f"<ul>{items}</ul>" if items else ""
        return (
            f'<div class="alert {escape(block.kind)}" role="alert">'
            f"<strong>{escape(block.title)}</strong>{items}</div>"
        )
    return '<div class="math">' + "".join(f"<div>{h}</div>" for h, _ in block.lines) + "</div>"


def to_html(doc: Document) -> str:
    """Render ``doc`` as one self-contained HTML page."""
    toc = "".join(
        f'<li><a href="#{escape(s.id)}">{escape(s.title)}</a></li>' for s in doc.sections
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(doc.title)}</title><style>{CSS}</style></head>",
        "<body><main>",
        f"<header><h1>{escape(doc.title)}</h1>",
        *(f'<p class="meta">{escape(m)}</p>' for m in doc.meta),
        "</header>",
        *(_html_block(a) for a in doc.alerts),
        f"<nav><ol>{toc}</ol></nav>",
    ]
    for s in doc.sections:
        parts.append(f'<section id="{escape(s.id)}"><h2>{escape(s.title)}</h2>')
        parts.extend(_html_block(b) for b in s.blocks)
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _md_text(text: str) -> str:
    return escape(text, quote=False)


def _md_block(block: Block, image_dir: str, images: dict[str, bytes]) -> str:
    if isinstance(block, Text):
        return _md_text(block.text)
    if isinstance(block, Table):
        rows = [block.header, tuple("---" for _ in block.header), *block.rows]
        return "\n".join(
            "| " + " | ".join(_md_text(c).replace("|", "\\|") for c in row) + " |" for row in rows
        )
    if isinstance(block, Figure):
        file = f"{block.name}.png"
        images[file] = block.png
        return f"![{_md_text(block.caption)}]({image_dir}/{file})\n\n*{_md_text(block.caption)}*"
    if isinstance(block, Code):
        return f"```python\n{block.text.rstrip()}\n```"
    if isinstance(block, Alert):
        lines = [f"> **{_md_text(block.title)}**"]
        lines += [f"> - {_md_text(item)}" for item in block.items]
        return "\n".join(lines)
    return "```text\n" + "\n".join(text for _, text in block.lines) + "\n```"


def to_markdown(doc: Document, image_dir: str) -> tuple[str, dict[str, bytes]]:
    """Render ``doc`` as Markdown whose images live in ``image_dir`` (a relative path).

    Returns
    -------
    text : str
        The Markdown.
    images : dict of str to bytes
        File name (inside ``image_dir``) to PNG bytes, for the caller to write.
    """
    images: dict[str, bytes] = {}
    parts = [f"# {_md_text(doc.title)}", *(_md_text(m) for m in doc.meta)]
    parts += [_md_block(a, image_dir, images) for a in doc.alerts]
    for s in doc.sections:
        parts.append(f'<a id="{escape(s.id)}"></a>\n\n## {_md_text(s.title)}')
        parts.extend(_md_block(b, image_dir, images) for b in s.blocks)
    return "\n\n".join(parts) + "\n", images
