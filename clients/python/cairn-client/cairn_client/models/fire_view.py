from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.fire_outcome import FireOutcome
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.fire_detail import FireDetail


T = TypeVar("T", bound="FireView")


@_attrs_define
class FireView:
    """What one slot did.

    Attributes:
        outcome (FireOutcome): What became of a schedule's slot.
        slot (str): The slot, in the schedule's zone.
        detail (FireDetail | None | Unset):
        run_id (None | str | Unset):
    """

    outcome: FireOutcome
    slot: str
    detail: FireDetail | None | Unset = UNSET
    run_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.fire_detail import FireDetail  # noqa: PLC0415

        outcome = self.outcome.value

        slot = self.slot

        detail: dict[str, Any] | None | Unset
        if isinstance(self.detail, Unset):
            detail = UNSET
        elif isinstance(self.detail, FireDetail):
            detail = self.detail.to_dict()
        else:
            detail = self.detail

        run_id: None | str | Unset
        if isinstance(self.run_id, Unset):
            run_id = UNSET
        else:
            run_id = self.run_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "outcome": outcome,
                "slot": slot,
            }
        )
        if detail is not UNSET:
            field_dict["detail"] = detail
        if run_id is not UNSET:
            field_dict["run_id"] = run_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.fire_detail import FireDetail  # noqa: PLC0415

        d = dict(src_dict)
        outcome = FireOutcome(d.pop("outcome"))

        slot = d.pop("slot")

        def _parse_detail(data: object) -> FireDetail | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                detail_type_0 = FireDetail.from_dict(data)

                return detail_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(FireDetail | None | Unset, data)

        detail = _parse_detail(d.pop("detail", UNSET))

        def _parse_run_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        run_id = _parse_run_id(d.pop("run_id", UNSET))

        fire_view = cls(
            outcome=outcome,
            slot=slot,
            detail=detail,
            run_id=run_id,
        )

        fire_view.additional_properties = d
        return fire_view

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
