from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.event_kind import EventKind

T = TypeVar("T", bound="EventView")


@_attrs_define
class EventView:
    """One entry of a run's event log.

    Attributes:
        at (str):
        data (Any):
        kind (EventKind): The kinds of event in a run's log. The log's JSON (and the database) has
            them as snake_case text; notifications are derived from them
            (`RunEvent::notification`), never from text.
        seq (int): The event's sequence number in its run, from 1.
    """

    at: str
    data: Any
    kind: EventKind
    seq: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        at = self.at

        data = self.data

        kind = self.kind.value

        seq = self.seq

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "at": at,
                "data": data,
                "kind": kind,
                "seq": seq,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        at = d.pop("at")

        data = d.pop("data")

        kind = EventKind(d.pop("kind"))

        seq = d.pop("seq")

        event_view = cls(
            at=at,
            data=data,
            kind=kind,
            seq=seq,
        )

        event_view.additional_properties = d
        return event_view

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
