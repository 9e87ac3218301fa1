"""Kubernetes resource quantities (`500m`, `2`, `12Gi`, `128M`) as plain numbers, and back for messages.

The suffixes are those of `k8s.io/apimachinery/pkg/api/resource` (`Quantity`): binary `Ki Mi Gi Ti Pi Ei`,
decimal `k M G T P E`, and `m` (milli) for CPU. A value that is not a quantity counts as 0, so a
malformed request never hides a scheduling problem behind a crash (schema checks report the syntax).
"""

from __future__ import annotations

import re
from typing import Any

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse(value: Any) -> float:
    """The quantity as a number of base units (cores, bytes, devices); 0 when absent or malformed."""
    if isinstance(value, bool) or value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return 0.0
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = float(number)
    except ValueError:
        return 0.0
    return base * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])


def millicores(value: Any) -> int:
    return round(parse(value) * 1000)


def cpu_text(milli: float) -> str:
    return f"{milli / 1000:g}" if milli % 1000 == 0 else f"{milli:.0f}m"


def memory_text(value: float) -> str:
    for suffix, factor in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= factor:
            return f"{value / factor:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"
