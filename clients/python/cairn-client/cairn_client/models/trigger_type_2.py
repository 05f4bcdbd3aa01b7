from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.trigger_type_2_kind import TriggerType2Kind

T = TypeVar("T", bound="TriggerType2")


@_attrs_define
class TriggerType2:
    """A `workflow` step of another run (its parent): `depth` counts the
    runs above this one.

        Attributes:
            depth (int):
            kind (TriggerType2Kind):
            run_id (str):
            step (str):
    """

    depth: int
    kind: TriggerType2Kind
    run_id: str
    step: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        depth = self.depth

        kind = self.kind.value

        run_id = self.run_id

        step = self.step

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "depth": depth,
                "kind": kind,
                "run_id": run_id,
                "step": step,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        depth = d.pop("depth")

        kind = TriggerType2Kind(d.pop("kind"))

        run_id = d.pop("run_id")

        step = d.pop("step")

        trigger_type_2 = cls(
            depth=depth,
            kind=kind,
            run_id=run_id,
            step=step,
        )

        trigger_type_2.additional_properties = d
        return trigger_type_2

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
