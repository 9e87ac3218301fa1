"""Common base for every configuration model: camelCase keys, strict about unknown keys, immutable."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class KivaModel(BaseModel):
    """A node of the `kiva:` configuration tree as written in `Pulumi.<stack>.yaml`."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError(f"must be a Kubernetes quantity such as 500m, 2, 4Gi (got {value!r})")
    return value


def _dns_label(value: str) -> str:
    if len(value) > 40 or not _DNS_LABEL.match(value):
        raise ValueError(
            "must be a lowercase DNS label of at most 40 characters: letters, digits and '-', "
            f"starting with a letter (got {value!r})"
        )
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]
"""A Kubernetes resource quantity, e.g. `500m`, `2`, `16Gi`."""

DnsLabel = Annotated[str, AfterValidator(_dns_label)]
"""A name that becomes part of Kubernetes and Azure resource names."""


def quantity_to_gib(value: str) -> float:
    """Convert a memory quantity to GiB (for sizing checks)."""
    factors = {
        "Ki": 2**-20,
        "Mi": 2**-10,
        "Gi": 1,
        "Ti": 2**10,
        "k": 1e3 / 2**30,
        "M": 1e6 / 2**30,
        "G": 1e9 / 2**30,
        "T": 1e12 / 2**30,
    }
    match = re.match(r"^([0-9.]+)([A-Za-z]*)$", value)
    assert match, value
    number, unit = match.groups()
    return float(number) * factors.get(unit, 1 / 2**30)


def quantity_to_cores(value: str) -> float:
    """Convert a CPU quantity to cores."""
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)
