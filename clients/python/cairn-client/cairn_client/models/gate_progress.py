from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="GateProgress")


@_attrs_define
class GateProgress:
    """A gate's reviewers and quorum, while the run waits there. Its fields sit
    in the pending action's object; a plugin's pause has none of them (so the
    schema marks none required).

        Attributes:
            approvals (int | Unset): Distinct identities that approved so far.
            paused_at (str | Unset): When the run paused here (RFC 3339); approval links expire from it.
            required (int | Unset): Approvals by distinct identities the run needs to go on.
            reviewers (list[str] | Unset): Who gets an approval link.
    """

    approvals: int | Unset = UNSET
    paused_at: str | Unset = UNSET
    required: int | Unset = UNSET
    reviewers: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        approvals = self.approvals

        paused_at = self.paused_at

        required = self.required

        reviewers: list[str] | Unset = UNSET
        if not isinstance(self.reviewers, Unset):
            reviewers = self.reviewers

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if approvals is not UNSET:
            field_dict["approvals"] = approvals
        if paused_at is not UNSET:
            field_dict["paused_at"] = paused_at
        if required is not UNSET:
            field_dict["required"] = required
        if reviewers is not UNSET:
            field_dict["reviewers"] = reviewers

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        approvals = d.pop("approvals", UNSET)

        paused_at = d.pop("paused_at", UNSET)

        required = d.pop("required", UNSET)

        reviewers = cast(list[str], d.pop("reviewers", UNSET))

        gate_progress = cls(
            approvals=approvals,
            paused_at=paused_at,
            required=required,
            reviewers=reviewers,
        )

        gate_progress.additional_properties = d
        return gate_progress

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
