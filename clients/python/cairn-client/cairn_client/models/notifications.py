from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.email_target import EmailTarget
    from ..models.webhook_target import WebhookTarget


T = TypeVar("T", bound="Notifications")


@_attrs_define
class Notifications:
    """Webhooks and emails sent when runs pause or end.

    Attributes:
        email (EmailTarget | None | Unset):
        webhooks (list[WebhookTarget] | Unset):
    """

    email: EmailTarget | None | Unset = UNSET
    webhooks: list[WebhookTarget] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.email_target import EmailTarget  # noqa: PLC0415

        email: dict[str, Any] | None | Unset
        if isinstance(self.email, Unset):
            email = UNSET
        elif isinstance(self.email, EmailTarget):
            email = self.email.to_dict()
        else:
            email = self.email

        webhooks: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.webhooks, Unset):
            webhooks = []
            for webhooks_item_data in self.webhooks:
                webhooks_item = webhooks_item_data.to_dict()
                webhooks.append(webhooks_item)

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if email is not UNSET:
            field_dict["email"] = email
        if webhooks is not UNSET:
            field_dict["webhooks"] = webhooks

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.email_target import EmailTarget  # noqa: PLC0415
        from ..models.webhook_target import WebhookTarget  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_email(data: object) -> EmailTarget | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                email_type_0 = EmailTarget.from_dict(data)

                return email_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EmailTarget | None | Unset, data)

        email = _parse_email(d.pop("email", UNSET))

        _webhooks = d.pop("webhooks", UNSET)
        webhooks: list[WebhookTarget] | Unset = UNSET
        if _webhooks is not UNSET:
            webhooks = []
            for webhooks_item_data in _webhooks:
                webhooks_item = WebhookTarget.from_dict(webhooks_item_data)

                webhooks.append(webhooks_item)

        notifications = cls(
            email=email,
            webhooks=webhooks,
        )

        return notifications
