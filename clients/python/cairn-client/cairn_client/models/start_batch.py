from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="StartBatch")


@_attrs_define
class StartBatch:
    """
    Attributes:
        inputs (list[Any]): One run's `input` per item: 1 to 10,000 of them.
    """

    inputs: list[Any]

    def to_dict(self) -> dict[str, Any]:
        inputs = self.inputs

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "inputs": inputs,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        inputs = cast(list[Any], d.pop("inputs"))

        start_batch = cls(
            inputs=inputs,
        )

        return start_batch
