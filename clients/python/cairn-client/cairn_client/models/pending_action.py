from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="PendingAction")


@_attrs_define
class PendingAction:
    """What a paused run waits for: shown to people (API, pages, emails) and
    checked against their decision.

        Attributes:
            kind (str): `approval` at a gate; otherwise what the plugin called it.
            message (str):
            step (str): The step that waits.
            data (Any | Unset): What to review.
            input_schema (Any | Unset):
            options (list[str] | Unset): The options a decision must be one of; empty: a value `input_schema`
                accepts.
    """

    kind: str
    message: str
    step: str
    data: Any | Unset = UNSET
    input_schema: Any | Unset = UNSET
    options: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        kind = self.kind

        message = self.message

        step = self.step

        data = self.data

        input_schema = self.input_schema

        options: list[str] | Unset = UNSET
        if not isinstance(self.options, Unset):
            options = self.options

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "kind": kind,
                "message": message,
                "step": step,
            }
        )
        if data is not UNSET:
            field_dict["data"] = data
        if input_schema is not UNSET:
            field_dict["input_schema"] = input_schema
        if options is not UNSET:
            field_dict["options"] = options

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kind = d.pop("kind")

        message = d.pop("message")

        step = d.pop("step")

        data = d.pop("data", UNSET)

        input_schema = d.pop("input_schema", UNSET)

        options = cast(list[str], d.pop("options", UNSET))

        pending_action = cls(
            kind=kind,
            message=message,
            step=step,
            data=data,
            input_schema=input_schema,
            options=options,
        )

        pending_action.additional_properties = d
        return pending_action

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
