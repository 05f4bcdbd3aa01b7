from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.notify_event import NotifyEvent
from ..types import UNSET, Unset

T = TypeVar("T", bound="EmailTarget")


@_attrs_define
class EmailTarget:
    """Emails: a paused gate's reviewers get their approval links, and `to` gets
    word of the events it asks for.

        Attributes:
            events (list[NotifyEvent] | Unset):
            reviewers (bool | Unset): Whether a gate's reviewers (those that are email addresses) are sent
                their approval links when the run pauses there.
            to (list[str] | Unset):
    """

    events: list[NotifyEvent] | Unset = UNSET
    reviewers: bool | Unset = UNSET
    to: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        events: list[str] | Unset = UNSET
        if not isinstance(self.events, Unset):
            events = []
            for events_item_data in self.events:
                events_item = events_item_data.value
                events.append(events_item)

        reviewers = self.reviewers

        to: list[str] | Unset = UNSET
        if not isinstance(self.to, Unset):
            to = self.to

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if events is not UNSET:
            field_dict["events"] = events
        if reviewers is not UNSET:
            field_dict["reviewers"] = reviewers
        if to is not UNSET:
            field_dict["to"] = to

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        _events = d.pop("events", UNSET)
        events: list[NotifyEvent] | Unset = UNSET
        if _events is not UNSET:
            events = []
            for events_item_data in _events:
                events_item = NotifyEvent(events_item_data)

                events.append(events_item)

        reviewers = d.pop("reviewers", UNSET)

        to = cast(list[str], d.pop("to", UNSET))

        email_target = cls(
            events=events,
            reviewers=reviewers,
            to=to,
        )

        return email_target
