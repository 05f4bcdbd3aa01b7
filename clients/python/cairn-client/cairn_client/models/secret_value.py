from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="SecretValue")


@_attrs_define
class SecretValue:
    """A secret's value. Deliberately not `Debug`: it must not reach a log.

    Attributes:
        value (str): 1 to 16 KiB of text without control characters.
    """

    value: str

    def to_dict(self) -> dict[str, Any]:
        value = self.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "value": value,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        value = d.pop("value")

        secret_value = cls(
            value=value,
        )

        return secret_value
