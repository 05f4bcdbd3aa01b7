from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.run_status import RunStatus

T = TypeVar("T", bound="RecentRun")


@_attrs_define
class RecentRun:
    """
    Attributes:
        created_at (str):
        id (str):
        number (int): Its place among the workflow's runs: #1, #2, ...
        status (RunStatus): `pending → running → (paused ⇄ running) → completed | failed | cancelled`
            (a decision that finishes the last step completes a paused run)
    """

    created_at: str
    id: str
    number: int
    status: RunStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        id = self.id

        number = self.number

        status = self.status.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "id": id,
                "number": number,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = d.pop("created_at")

        id = d.pop("id")

        number = d.pop("number")

        status = RunStatus(d.pop("status"))

        recent_run = cls(
            created_at=created_at,
            id=id,
            number=number,
            status=status,
        )

        recent_run.additional_properties = d
        return recent_run

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
