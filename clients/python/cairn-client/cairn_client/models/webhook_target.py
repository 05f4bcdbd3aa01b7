from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.notify_event import NotifyEvent
from ..types import UNSET, Unset

T = TypeVar("T", bound="WebhookTarget")


@_attrs_define
class WebhookTarget:
    """A webhook, signed the Standard Webhooks way.

    Attributes:
        secret (str): The tenant secret that signs the deliveries, as `${secret:NAME}`; its
            value is `whsec_` and the base64 of the key, as Standard Webhooks has
            it, and never appears in the definition.
        url (str):
        events (list[NotifyEvent] | Unset):
    """

    secret: str
    url: str
    events: list[NotifyEvent] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        secret = self.secret

        url = self.url

        events: list[str] | Unset = UNSET
        if not isinstance(self.events, Unset):
            events = []
            for events_item_data in self.events:
                events_item = events_item_data.value
                events.append(events_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "secret": secret,
                "url": url,
            }
        )
        if events is not UNSET:
            field_dict["events"] = events

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        secret = d.pop("secret")

        url = d.pop("url")

        _events = d.pop("events", UNSET)
        events: list[NotifyEvent] | Unset = UNSET
        if _events is not UNSET:
            events = []
            for events_item_data in _events:
                events_item = NotifyEvent(events_item_data)

                events.append(events_item)

        webhook_target = cls(
            secret=secret,
            url=url,
            events=events,
        )

        return webhook_target
