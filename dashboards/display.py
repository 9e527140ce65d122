"""How Grafana 11 turns a field's numbers into the text an operator reads.

A panel reduces a series to one number (stat: ``lastNotNull``), maps it (value mappings),
or formats it with the field's unit and decimals. The formatters below follow Grafana's
``packages/grafana-data/src/valueFormats`` for the units the boards use: JavaScript's
``Math.round`` (halves rounded up), time units that step up to the next unit (``100 h`` is
``4.2 day``), SI-scaled rates. A unit not listed here is refused, so a board cannot start
using a unit nobody checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

NO_VALUE: Final = "—"

Formatter = Callable[[float, int | None], tuple[str, str]]
"""(value, decimals) -> (text, suffix)."""


def _js_number(value: float) -> str:
    """JavaScript's ``String(number)`` for values without an exponent."""
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _auto_decimals(value: float) -> int:
    """Grafana's ``getDecimalsForValue`` (decimals when a field sets none)."""
    if value % 1 == 0:
        return 0
    log10 = math.floor(math.log(abs(value)) / math.log(10))
    dec = -log10 + 1
    norm = value / math.pow(10, -dec)
    if norm > 2.25:
        dec += 1
    return max(0, dec)


def to_fixed(value: float, decimals: int | None) -> str:
    """Grafana's ``toFixed``: round half up to ``decimals`` places, pad with zeros."""
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    places = _auto_decimals(value) if decimals is None else decimals
    if value == 0:
        return f"{0:.{places}f}"
    factor = math.pow(10, max(0, places)) if places else 1.0
    formatted = _js_number(math.floor(value * factor + 0.5) / factor)
    if "e" in formatted:
        return formatted
    point = formatted.find(".")
    precision = 0 if point == -1 else len(formatted) - point - 1
    if precision < places:
        return (formatted if precision else formatted + ".") + "0" * (places - precision)
    return formatted


def _fixed(suffix: str) -> Formatter:
    return lambda value, decimals: (to_fixed(value, decimals), suffix)


def _steps(steps: Sequence[tuple[float, float, str]]) -> Formatter:
    """Time units: below each bound, divide by its factor and show its suffix."""

    def fmt(value: float, decimals: int | None) -> tuple[str, str]:
        for bound, factor, suffix in steps:
            if abs(value) < bound:
                return to_fixed(value / factor, decimals), suffix
        _, factor, suffix = steps[-1]
        return to_fixed(value / factor, decimals), suffix

    return fmt


def _scaled(factor: float, suffixes: Sequence[str], offset: int = 0) -> Formatter:
    """Grafana's ``scaledUnits``: 1000 -> 1 K, and so on (``offset``: the base suffix)."""

    def fmt(value: float, decimals: int | None) -> tuple[str, str]:
        index = math.floor(math.log(abs(value)) / math.log(factor)) if value else -(10**9)
        suffix = suffixes[min(max(offset + index, 0), len(suffixes) - 1)]
        power = min(max(index, -offset), len(suffixes) - offset - 1)
        return to_fixed(value / factor**power, decimals), suffix

    return fmt


def _count(symbol: str) -> Formatter:
    """Grafana's ``simpleCountUnit``: scaled by 1000, then `` symbol``."""
    scaled = _scaled(1000, ("", "K", "M", "B", "T"))

    def fmt(value: float, decimals: int | None) -> tuple[str, str]:
        text, suffix = scaled(value, decimals)
        return text, f"{suffix} {symbol}"

    return fmt


def _seconds(value: float, decimals: int | None) -> tuple[str, str]:
    if value == 0:
        return "0", " s"
    return _steps(
        (
            (1e-6, 1e-9, " ns"),
            (1e-3, 1e-6, " µs"),
            (1.0, 1e-3, " ms"),
            (60.0, 1.0, " s"),
            (3600.0, 60.0, " min"),
            (86400.0, 3600.0, " hour"),
            (604800.0, 86400.0, " day"),
            (31536000.0, 604800.0, " week"),
            (math.inf, 3.15569e7, " year"),
        )
    )(value, decimals)


_SI: Final = ("f", "p", "n", "µ", "m", "", "k", "M", "G", "T", "P", "E", "Z", "Y")

FORMATTERS: Final[Mapping[str, Formatter]] = {
    "none": _fixed(""),
    "short": _scaled(1000, ("", " K", " Mil", " Bil", " Tri", " Quadr", " Quint", " Sext")),
    "percent": _fixed("%"),
    "percentunit": lambda value, decimals: (to_fixed(value * 100, decimals), "%"),
    "celsius": _fixed(" °C"),
    "ops": _count("ops"),
    "Mbits": _scaled(1000, tuple(f" {p}bps" for p in _SI), _SI.index("M")),
    "ms": _steps(
        (
            (1000.0, 1.0, " ms"),
            (60000.0, 1000.0, " s"),
            (3600000.0, 60000.0, " min"),
            (86400000.0, 3600000.0, " hour"),
            (31536000000.0, 86400000.0, " day"),
            (math.inf, 31536000000.0, " year"),
        )
    ),
    "s": _seconds,
    "m": _steps(
        (
            (60.0, 1.0, " min"),
            (1440.0, 60.0, " hour"),
            (10080.0, 1440.0, " day"),
            (604800.0, 10080.0, " week"),
            (math.inf, 5.25948e5, " year"),
        )
    ),
    "h": _steps(
        (
            (24.0, 1.0, " hour"),
            (168.0, 24.0, " day"),
            (8760.0, 168.0, " week"),
            (math.inf, 8760.0, " year"),
        )
    ),
}


def format_value(value: float | None, unit: str | None, decimals: int | None) -> str:
    """``value`` as Grafana prints it with ``unit`` and ``decimals`` (None: "—")."""
    if value is None or math.isnan(value):
        return NO_VALUE
    unit = unit or "none"
    if unit.startswith("suffix:"):
        return to_fixed(value, decimals) + " " + unit.removeprefix("suffix:")
    formatter = FORMATTERS.get(unit)
    if formatter is None:
        raise ValueError(f"unit {unit!r} has no Grafana formatter here: add it to FORMATTERS")
    text, suffix = formatter(value, decimals)
    return text + suffix


def unit_suffix(unit: str) -> str:
    """The suffix ``unit`` gives a small value (an axis label), without its leading space."""
    return format_value(1.0, unit, 0).removeprefix("1").removeprefix("00").strip()


def mapped(text: str, mappings: Sequence[Mapping[str, Any]]) -> str | None:
    """The text a value mapping gives ``text`` (a value's string), if one matches."""
    for mapping in mappings:
        if mapping.get("type", "value") != "value":
            continue
        option = mapping.get("options", {}).get(text)
        if option and "text" in option:
            return str(option["text"])
    return None


def js_string(value: float) -> str:
    """A number as JavaScript prints it, the key value mappings are looked up by."""
    return _js_number(value) if not math.isnan(value) else "NaN"


def display(
    value: float | None,
    unit: str | None,
    decimals: int | None,
    mappings: Sequence[Mapping[str, Any]] = (),
    no_value: str = NO_VALUE,
) -> str:
    """What a field shows for ``value``: its mapping's text, else unit and decimals."""
    if value is None:
        return no_value
    return mapped(js_string(value), mappings) or format_value(value, unit, decimals)


def reduce(values: Sequence[float | None], calc: str) -> float | None:
    """A series reduced as a stat's ``reduceOptions.calcs`` says (None: no value)."""
    present = [v for v in values if v is not None and not math.isnan(v)]
    if calc == "lastNotNull":
        return present[-1] if present else None
    if calc == "last":
        return values[-1] if values else None
    if not present:
        return None
    if calc == "mean":
        return sum(present) / len(present)
    if calc == "max":
        return max(present)
    if calc == "min":
        return min(present)
    if calc == "sum":
        return sum(present)
    raise ValueError(f"stat reduction {calc!r} is not reproduced here")
