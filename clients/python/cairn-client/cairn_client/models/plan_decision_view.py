from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.plan_channel import PlanChannel
from ..models.plan_decision import PlanDecision
from ..types import UNSET, Unset

T = TypeVar("T", bound="PlanDecisionView")


@_attrs_define
class PlanDecisionView:
    """One decision on one version of a plan.

    Attributes:
        at (str):
        channel (PlanChannel): How a decision on a plan arrived.
        decision (PlanDecision): What a plan's reviewer decides.
        reviewer (str): A key's name, or the email address a link was sent to.
        version (int):
        note (None | str | Unset):
    """

    at: str
    channel: PlanChannel
    decision: PlanDecision
    reviewer: str
    version: int
    note: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        at = self.at

        channel = self.channel.value

        decision = self.decision.value

        reviewer = self.reviewer

        version = self.version

        note: None | str | Unset
        if isinstance(self.note, Unset):
            note = UNSET
        else:
            note = self.note

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "at": at,
                "channel": channel,
                "decision": decision,
                "reviewer": reviewer,
                "version": version,
            }
        )
        if note is not UNSET:
            field_dict["note"] = note

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        at = d.pop("at")

        channel = PlanChannel(d.pop("channel"))

        decision = PlanDecision(d.pop("decision"))

        reviewer = d.pop("reviewer")

        version = d.pop("version")

        def _parse_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        note = _parse_note(d.pop("note", UNSET))

        plan_decision_view = cls(
            at=at,
            channel=channel,
            decision=decision,
            reviewer=reviewer,
            version=version,
            note=note,
        )

        plan_decision_view.additional_properties = d
        return plan_decision_view

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
