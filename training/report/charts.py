"""Small inline SVG charts for the model report: grouped bars, lines and a heat map.

Plain SVG markup as text: the report is one HTML file read offline, so no chart library,
script or font is fetched. Every piece of text that reaches the markup is escaped here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["PALETTE", "Series", "bar_chart", "heat_map", "line_chart", "percent"]

# The model first, then the baselines: distinguishable in print and for common colour blindness.
PALETTE = ("#1f5f99", "#d1731f", "#5b8f2a", "#8a4fa6", "#9a7b1c", "#3c8d8d")
INK, MUTED, GRID = "#1d1d1d", "#5f5f5f", "#dcdcdc"
WIDTH = 680
_CHAR = 7.0  # px per character of 12px text: enough to size label columns without fonts


@dataclass(frozen=True)
class Series:
    """One named row of numbers: a bar per category, or a y per x on a line chart."""

    name: str
    values: Sequence[float]
    colour: str | None = None  # default: the palette's colour for the series' position


Format = Callable[[float], str]


def percent(value: float) -> str:
    return f"{value:.0%}" if abs(value) >= 0.1 or value == 0 else f"{value:.1%}"


def _text(
    x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, **attrs: str
) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
        f"{escape(text)}</text>"
    )


def _svg(*, title: str, width: float, height: float, body: list[str]) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'font-family="system-ui, sans-serif" fill="{INK}"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _colour(series: Series, i: int) -> str:
    return series.colour or PALETTE[i % len(PALETTE)]


def _legend(keys: Sequence[tuple[str, str]], *, x: float, y: float) -> tuple[list[str], float]:
    """``(name, colour)`` keys in rows that wrap; returns the markup and the height it takes."""
    out, cx, cy = [], x, y
    for name, colour in keys:
        w = 22 + len(name) * _CHAR + 18
        if cx + w > WIDTH - 10 and cx > x:
            cx, cy = x, cy + 18
        out.append(f'<rect x="{cx:.1f}" y="{cy - 9:.1f}" width="14" height="10" fill="{colour}"/>')
        out.append(_text(cx + 20, cy, name))
        cx += w
    return out, cy - y + 22


def bar_chart(
    *, title: str, categories: Sequence[str], series: Sequence[Series], fmt: Format = percent
) -> str:
    """Horizontal bars, one group per category and one bar per series, values at the ends."""
    label_w = min(220.0, max([len(c) for c in categories] + [4]) * _CHAR + 12)
    bar_h, gap = 14.0, 10.0
    keys = [(s.name, _colour(s, i)) for i, s in enumerate(series)]
    body, top = _legend(keys, x=label_w, y=16) if len(series) > 1 else ([], 8.0)
    top += 4
    peak = max([v for s in series for v in s.values] + [0.0]) or 1.0
    room = WIDTH - label_w - 70  # the value's label after the longest bar
    y = top
    for ci, category in enumerate(categories):
        group_h = bar_h * len(series)
        body.append(_text(label_w - 8, y + group_h / 2 + 4, _clip(category, label_w), anchor="end"))
        for si, s in enumerate(series):
            value = float(s.values[ci])
            w = max(0.0, value) / peak * room
            colour = _colour(s, si)
            body.append(
                f'<rect x="{label_w:.1f}" y="{y:.1f}" width="{w:.1f}" height="{bar_h - 2:.1f}" '
                f'fill="{colour}"><title>{escape(f"{s.name}, {category}: {fmt(value)}")}</title></rect>'
            )
            body.append(_text(label_w + w + 4, y + bar_h - 4, fmt(value), size=11, fill=MUTED))
            y += bar_h
        y += gap
    return _svg(title=title, width=WIDTH, height=y + 4, body=body)


def _clip(text: str, width: float) -> str:
    most = max(4, int(width / _CHAR) - 1)
    return text if len(text) <= most else text[: most - 1] + "…"


def _ticks(top: float) -> list[float]:
    """About five round ticks from 0 to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 5
    step = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 0.1 if raw > 0.05 else 0.05
    for m in (1, 2, 2.5, 5, 10):
        if step * m >= raw:
            step *= m
            break
    n = int(-(-top // step))
    return [round(i * step, 10) for i in range(n + 1)]


def line_chart(
    *,
    title: str,
    series: Sequence[tuple[Series, Sequence[float]]],
    x_label: str,
    y_label: str,
    diagonal: str | None = None,
    fmt: Format = percent,
    markers: bool = False,
) -> str:
    """Lines of ``(series of y, their x)``, axes from 0, and optionally the y = x line
    drawn dashed and named ``diagonal`` (chance on a gains chart, perfect calibration)."""
    keys = [(s.name, _colour(s, i)) for i, (s, _) in enumerate(series)]
    legend, legend_h = _legend(keys + ([(diagonal, MUTED)] if diagonal else []), x=60, y=16)
    top = legend_h + 8
    left, right, bottom, height = 60.0, 20.0, 44.0, 300.0
    plot_w, plot_h = WIDTH - left - right, height - bottom - top
    xs_all = [x for _, xs in series for x in xs]
    ys_all = [y for s, _ in series for y in s.values]
    ceiling = max([*xs_all, *ys_all, 0.0]) if diagonal else 0.0  # keep y = x square
    x_ticks = _ticks(max([*xs_all, ceiling]))
    y_ticks = _ticks(max([*ys_all, ceiling]))

    def px(x: float) -> float:
        return left + x / x_ticks[-1] * plot_w

    def py(y: float) -> float:
        return top + plot_h - y / y_ticks[-1] * plot_h

    body = legend
    for t in y_ticks:
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="{GRID}"/>'
        )
        body.append(_text(left - 6, py(t) + 4, fmt(t), anchor="end", size=11, fill=MUTED))
    for t in x_ticks:
        body.append(_text(px(t), top + plot_h + 16, fmt(t), anchor="middle", size=11, fill=MUTED))
    body.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    body.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{MUTED}"/>'
    )
    body.append(_text(left + plot_w / 2, height - 6, x_label, anchor="middle"))
    body.append(
        _text(
            14,
            top + plot_h / 2,
            y_label,
            anchor="middle",
            transform=f"rotate(-90 14 {top + plot_h / 2:.1f})",
        )
    )
    if diagonal:
        end = min(x_ticks[-1], y_ticks[-1])
        body.append(
            f'<line x1="{px(0):.1f}" y1="{py(0):.1f}" x2="{px(end):.1f}" y2="{py(end):.1f}" '
            f'stroke="{MUTED}" stroke-dasharray="5 4"/>'
        )
    for i, (s, xs) in enumerate(series):
        colour = _colour(s, i)
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, s.values, strict=True))
        width = 3 if i == 0 else 2
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{width}">'
            f"<title>{escape(s.name)}</title></polyline>"
        )
        if markers:
            body += [
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(f'{s.name}: {fmt(x)} → {fmt(y)}')}</title></circle>"
                for x, y in zip(xs, s.values, strict=True)
            ]
    return _svg(title=title, width=WIDTH, height=height, body=body)


def heat_map(*, title: str, labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """A confusion matrix: rows are the actual tiers, columns the given ones; each cell is
    shaded by its share of the row, so a good model shows a dark diagonal."""
    label_w = min(180.0, max([len(t) for t in labels] + [6]) * _CHAR + 16)
    cell = min(90.0, (WIDTH - label_w - 20) / max(1, len(labels)))
    top = 46.0
    body = [
        _text(
            label_w + cell * len(labels) / 2, 14, "given by the model", anchor="middle", fill=MUTED
        ),
        _text(8, 14, "actual ↓", fill=MUTED),
    ]
    for j, t in enumerate(labels):
        body.append(_text(label_w + j * cell + cell / 2, top - 8, _clip(t, cell), anchor="middle"))
    for i, row in enumerate(matrix):
        y = top + i * cell
        body.append(_text(label_w - 8, y + cell / 2 + 4, _clip(labels[i], label_w), anchor="end"))
        total = sum(row) or 1
        for j, n in enumerate(row):
            share = n / total
            # Capped below full strength so the dark figures keep AA contrast on every cell.
            shade = f"rgba(31, 95, 153, {0.06 + 0.54 * share:.3f})"
            body.append(
                f'<rect x="{label_w + j * cell:.1f}" y="{y:.1f}" width="{cell - 2:.1f}" '
                f'height="{cell - 2:.1f}" fill="{shade}"><title>'
                f"{escape(f'actual {labels[i]}, given {labels[j]}: {n} ({share:.0%} of the row)')}"
                "</title></rect>"
            )
            body.append(
                _text(
                    label_w + j * cell + cell / 2 - 1,
                    y + cell / 2 + 4,
                    f"{n:,}",
                    anchor="middle",
                    fill=INK,
                )
            )
    height = top + cell * len(matrix) + 6
    return _svg(title=title, width=label_w + cell * len(labels) + 10, height=height, body=body)
