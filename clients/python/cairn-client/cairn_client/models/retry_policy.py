from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="RetryPolicy")


@_attrs_define
class RetryPolicy:
    """Retries of retryable failures, with exponential backoff.

    Attributes:
        initial_backoff (str | Unset):
        max_attempts (int | Unset): Attempts in all, the first included.
        max_backoff (str | Unset):
        multiplier (float | Unset):
    """

    initial_backoff: str | Unset = UNSET
    max_attempts: int | Unset = UNSET
    max_backoff: str | Unset = UNSET
    multiplier: float | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        initial_backoff = self.initial_backoff

        max_attempts = self.max_attempts

        max_backoff = self.max_backoff

        multiplier = self.multiplier

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if initial_backoff is not UNSET:
            field_dict["initial_backoff"] = initial_backoff
        if max_attempts is not UNSET:
            field_dict["max_attempts"] = max_attempts
        if max_backoff is not UNSET:
            field_dict["max_backoff"] = max_backoff
        if multiplier is not UNSET:
            field_dict["multiplier"] = multiplier

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        initial_backoff = d.pop("initial_backoff", UNSET)

        max_attempts = d.pop("max_attempts", UNSET)

        max_backoff = d.pop("max_backoff", UNSET)

        multiplier = d.pop("multiplier", UNSET)

        retry_policy = cls(
            initial_backoff=initial_backoff,
            max_attempts=max_attempts,
            max_backoff=max_backoff,
            multiplier=multiplier,
        )

        return retry_policy
