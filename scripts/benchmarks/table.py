"""The one table writer of the benchmarks: Markdown tables for the terminal, the `.md` files and the README."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    """`| a | b |` lines: the header, the `|---|` rule and one line per row (cells as given, `str()` of the rest);
    no trailing newline."""
    headers = [str(h) for h in headers]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def met_cell(met: bool | None) -> str:
    """The "met?" column: "yes", "**no**", or empty when the row has no target."""
    return "" if met is None else ("yes" if met else "**no**")


def metric_table(rows: Iterable[tuple[str, str, str, bool | None]]) -> str:
    """The metric / value / target / met? table of `(metric, value, target, met)` rows."""
    return markdown_table(["metric", "value", "target", "met?"],
                          [(metric, value, target, met_cell(met)) for metric, value, target, met in rows])


def fmt(value, spec: str) -> str:
    """`format(value, spec)`, "n/a" for None."""
    return "n/a" if value is None else format(value, spec)
