from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ScheduleSummary")


@_attrs_define
class ScheduleSummary:
    """A workflow's schedule, in brief (`GET /v1/workflows/{id}/schedule` has
    the rest).

        Attributes:
            cron (str):
            paused (bool):
            timezone (str):
            next_fire (None | str | Unset): The next slot, while the workflow is active and the schedule runs.
    """

    cron: str
    paused: bool
    timezone: str
    next_fire: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cron = self.cron

        paused = self.paused

        timezone = self.timezone

        next_fire: None | str | Unset
        if isinstance(self.next_fire, Unset):
            next_fire = UNSET
        else:
            next_fire = self.next_fire

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cron": cron,
                "paused": paused,
                "timezone": timezone,
            }
        )
        if next_fire is not UNSET:
            field_dict["next_fire"] = next_fire

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cron = d.pop("cron")

        paused = d.pop("paused")

        timezone = d.pop("timezone")

        def _parse_next_fire(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_fire = _parse_next_fire(d.pop("next_fire", UNSET))

        schedule_summary = cls(
            cron=cron,
            paused=paused,
            timezone=timezone,
            next_fire=next_fire,
        )

        schedule_summary.additional_properties = d
        return schedule_summary

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
