from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.channel import Channel
from ..types import UNSET, Unset

T = TypeVar("T", bound="Decision")


@_attrs_define
class Decision:
    """One decision recorded on a gate's step.

    Attributes:
        approving (bool): Whether the option approves (it is not one of the gate's `reject`).
        at (str): RFC 3339.
        channel (Channel): How a decision reached a run.
        option (str):
        reviewer (str): The verified identity that decided: an API key's name, the reviewer a
            link was made for, or `timeout`.
        label (None | str | Unset): What an API caller said about itself; never counted.
        note (None | str | Unset):
    """

    approving: bool
    at: str
    channel: Channel
    option: str
    reviewer: str
    label: None | str | Unset = UNSET
    note: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        approving = self.approving

        at = self.at

        channel = self.channel.value

        option = self.option

        reviewer = self.reviewer

        label: None | str | Unset
        if isinstance(self.label, Unset):
            label = UNSET
        else:
            label = self.label

        note: None | str | Unset
        if isinstance(self.note, Unset):
            note = UNSET
        else:
            note = self.note

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "approving": approving,
                "at": at,
                "channel": channel,
                "option": option,
                "reviewer": reviewer,
            }
        )
        if label is not UNSET:
            field_dict["label"] = label
        if note is not UNSET:
            field_dict["note"] = note

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        approving = d.pop("approving")

        at = d.pop("at")

        channel = Channel(d.pop("channel"))

        option = d.pop("option")

        reviewer = d.pop("reviewer")

        def _parse_label(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        label = _parse_label(d.pop("label", UNSET))

        def _parse_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        note = _parse_note(d.pop("note", UNSET))

        decision = cls(
            approving=approving,
            at=at,
            channel=channel,
            option=option,
            reviewer=reviewer,
            label=label,
            note=note,
        )

        decision.additional_properties = d
        return decision

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
