"""The report's HTML building blocks: escaping, numbers, tables, sections and the page.

Cells and text given to these helpers are escaped here (``esc``) unless a name says the
markup is already built; nothing from a spec or metadata reaches the page unescaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = ["RETRAIN", "esc", "needs_retrain", "num", "page", "para", "section", "table"]

RETRAIN = "retrain (`tierline train` or `tierline retrain`) to add it"

_STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, sans-serif; color: #1d1d1d; background: #fff; margin: 0; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 28px 0 8px; }
h3 { font-size: 16px; margin: 16px 0 4px; }
section { border-top: 1px solid #dcdcdc; }
.lead { color: #4a4a4a; margin: 0 0 12px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 13px;
         font-weight: 600; vertical-align: middle; background: #e8e8e8; color: #333; }
.ok { background: #d8eed8; color: #14501a; } .bad { background: #f7d9d6; color: #7a1a12; }
.note { background: #fff4d6; color: #4d3900; padding: 8px 12px; border-radius: 6px; }
.muted { color: #5f5f5f; }
table { border-collapse: collapse; margin: 8px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 4px 10px; text-align: left; }
td.num, th.num { text-align: right; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dt { color: #5f5f5f; } dd { margin: 0; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 8px 0; }
.band-stable { background: #d8eed8; color: #14501a; }
.band-watch { background: #fff0c2; color: #4d3900; }
.band-act { background: #f7d9d6; color: #7a1a12; }
.low { color: #7a1a12; font-weight: 600; }
footer { margin-top: 32px; color: #5f5f5f; font-size: 13px; }
"""
# No script and no fetch of any kind: the styles are inline and the SVG is in the document.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def esc(value: Any) -> str:
    return escape(str(value), quote=True)


def num(value: Any, digits: int = 3) -> str:
    """A count with thousands separators, a float to ``digits`` places, else a dash."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.{digits}f}"


def table(head: Sequence[str], rows: Sequence[Sequence[str]], *, numeric_from: int = 1) -> str:
    """A table of cells that are already markup; columns from ``numeric_from`` align right."""

    def cls(i: int) -> str:
        return ' class="num"' if i >= numeric_from else ""

    th = "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def section(key: str, title: str, *markup: str) -> str:
    """A titled section (``key`` is its id, for links and tests) around built markup."""
    return f'<section id="{esc(key)}"><h2>{esc(title)}</h2>{"".join(markup)}</section>'


def para(text: str, cls: str = "") -> str:
    return f'<p class="{esc(cls)}">{esc(text)}</p>' if cls else f"<p>{esc(text)}</p>"


def needs_retrain(what: str) -> str:
    return para(f"This version was trained before tierline kept its {what}; {RETRAIN}.", "note")


def page(*, title: str, body: Sequence[str]) -> str:
    """The whole document around built sections."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
