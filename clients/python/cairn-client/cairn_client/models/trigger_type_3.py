from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.trigger_type_3_kind import TriggerType3Kind
from ..types import UNSET, Unset

T = TypeVar("T", bound="TriggerType3")


@_attrs_define
class TriggerType3:
    """A slot of the workflow's cron schedule, in its time zone.

    Attributes:
        kind (TriggerType3Kind):
        slot (str):
        catch_up (bool | Unset): Started late, for a slot missed while the host was down.
        queued (bool | Unset): Started when an earlier run ended (overlap `queue`).
    """

    kind: TriggerType3Kind
    slot: str
    catch_up: bool | Unset = UNSET
    queued: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        kind = self.kind.value

        slot = self.slot

        catch_up = self.catch_up

        queued = self.queued

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "kind": kind,
                "slot": slot,
            }
        )
        if catch_up is not UNSET:
            field_dict["catch_up"] = catch_up
        if queued is not UNSET:
            field_dict["queued"] = queued

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kind = TriggerType3Kind(d.pop("kind"))

        slot = d.pop("slot")

        catch_up = d.pop("catch_up", UNSET)

        queued = d.pop("queued", UNSET)

        trigger_type_3 = cls(
            kind=kind,
            slot=slot,
            catch_up=catch_up,
            queued=queued,
        )

        trigger_type_3.additional_properties = d
        return trigger_type_3

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
