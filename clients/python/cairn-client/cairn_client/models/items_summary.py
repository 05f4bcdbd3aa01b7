from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ItemsSummary")


@_attrs_define
class ItemsSummary:
    """A map's items by how they stand.

    Attributes:
        cancelled (int):
        completed (int):
        failed (int):
        started (int): Items whose steps started.
        total (int):
        waiting (int): Items with a step waiting for a decision.
    """

    cancelled: int
    completed: int
    failed: int
    started: int
    total: int
    waiting: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cancelled = self.cancelled

        completed = self.completed

        failed = self.failed

        started = self.started

        total = self.total

        waiting = self.waiting

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cancelled": cancelled,
                "completed": completed,
                "failed": failed,
                "started": started,
                "total": total,
                "waiting": waiting,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cancelled = d.pop("cancelled")

        completed = d.pop("completed")

        failed = d.pop("failed")

        started = d.pop("started")

        total = d.pop("total")

        waiting = d.pop("waiting")

        items_summary = cls(
            cancelled=cancelled,
            completed=completed,
            failed=failed,
            started=started,
            total=total,
            waiting=waiting,
        )

        items_summary.additional_properties = d
        return items_summary

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
