from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="StepLog")


@_attrs_define
class StepLog:
    """One line a step's attempt logged.

    Attributes:
        attempt (int):
        level (str): `trace`, `debug`, `info`, `warn` or `error`.
        message (str):
        source (str): `plugin`, `host`, `stdout` or `stderr`.
    """

    attempt: int
    level: str
    message: str
    source: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempt = self.attempt

        level = self.level

        message = self.message

        source = self.source

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempt": attempt,
                "level": level,
                "message": message,
                "source": source,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        attempt = d.pop("attempt")

        level = d.pop("level")

        message = d.pop("message")

        source = d.pop("source")

        step_log = cls(
            attempt=attempt,
            level=level,
            message=message,
            source=source,
        )

        step_log.additional_properties = d
        return step_log

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
