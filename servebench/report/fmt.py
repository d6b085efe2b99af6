"""Numbers as a reader sees them: a median, its min-max spread, and a value to sort on."""

from __future__ import annotations

from dataclasses import dataclass

from servebench.results.summary import Spread


@dataclass(frozen=True)
class Shown:
    text: str  # the median, or a dash
    spread: str  # "low-high over n repeats", empty for a single value
    sort: float | None  # what a sortable column orders by
    marks: tuple[str, ...] = ()  # short warnings shown beside the value (flags)
    state: str = ""  # "thin" (greyed: a percentile with few answers beyond it) or "withheld"


def number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def shown(spread: Spread | None, digits: int = 0, marks: tuple[str, ...] = ()) -> Shown:
    if spread is None:
        return Shown("–", "", None, marks)
    text = number(spread.median, digits)
    if spread.n == 1:
        return Shown(text, "1 run", spread.median, marks)
    return Shown(text, f"{number(spread.low, digits)}–{number(spread.high, digits)}", spread.median, marks)


def plain(value: float | None, digits: int = 0, suffix: str = "") -> Shown:
    return Shown(number(value, digits) + (suffix if value is not None else ""), "", value)


def ratio(value: float) -> str:
    return f"{value:.2f}×" if value < 10 else f"{value:.1f}×"


def percent(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0:
        return "0 %"
    return f"{value * 100:.2g} %" if value < 0.01 else f"{value * 100:.1f} %"


def users(n: int) -> str:
    return f"{n} user" if n == 1 else f"{n} users"
