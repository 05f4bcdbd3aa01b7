from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Progress")


@_attrs_define
class Progress:
    """
    Attributes:
        percent (int):
        steps_completed (int):
        steps_total (int):
        current_action (None | str | Unset):
    """

    percent: int
    steps_completed: int
    steps_total: int
    current_action: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        percent = self.percent

        steps_completed = self.steps_completed

        steps_total = self.steps_total

        current_action: None | str | Unset
        if isinstance(self.current_action, Unset):
            current_action = UNSET
        else:
            current_action = self.current_action

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "percent": percent,
                "steps_completed": steps_completed,
                "steps_total": steps_total,
            }
        )
        if current_action is not UNSET:
            field_dict["current_action"] = current_action

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        percent = d.pop("percent")

        steps_completed = d.pop("steps_completed")

        steps_total = d.pop("steps_total")

        def _parse_current_action(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        current_action = _parse_current_action(d.pop("current_action", UNSET))

        progress = cls(
            percent=percent,
            steps_completed=steps_completed,
            steps_total=steps_total,
            current_action=current_action,
        )

        progress.additional_properties = d
        return progress

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
