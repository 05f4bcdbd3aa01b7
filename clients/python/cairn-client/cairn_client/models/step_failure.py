from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.error_reason import ErrorReason
from ..types import UNSET, Unset

T = TypeVar("T", bound="StepFailure")


@_attrs_define
class StepFailure:
    """Why a step attempt failed.

    Attributes:
        message (str):
        retryable (bool): Whether the plugin said another attempt could succeed.
        fault (None | str | Unset): When the host stopped the plugin: which limit or fault.
        reason (ErrorReason | None | Unset):
    """

    message: str
    retryable: bool
    fault: None | str | Unset = UNSET
    reason: ErrorReason | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        message = self.message

        retryable = self.retryable

        fault: None | str | Unset
        if isinstance(self.fault, Unset):
            fault = UNSET
        else:
            fault = self.fault

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        elif isinstance(self.reason, ErrorReason):
            reason = self.reason.value
        else:
            reason = self.reason

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "message": message,
                "retryable": retryable,
            }
        )
        if fault is not UNSET:
            field_dict["fault"] = fault
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        message = d.pop("message")

        retryable = d.pop("retryable")

        def _parse_fault(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        fault = _parse_fault(d.pop("fault", UNSET))

        def _parse_reason(data: object) -> ErrorReason | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                reason_type_0 = ErrorReason(data)

                return reason_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ErrorReason | None | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        step_failure = cls(
            message=message,
            retryable=retryable,
            fault=fault,
            reason=reason,
        )

        step_failure.additional_properties = d
        return step_failure

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
