from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.timeout_action import TimeoutAction
from ..types import UNSET, Unset

T = TypeVar("T", bound="ApprovalGate")


@_attrs_define
class ApprovalGate:
    """A gate that pauses the run after its step, showing the step's output.

    Attributes:
        message (str | Unset):
        on_timeout (TimeoutAction | Unset): What happens when a paused step's time is up.
        options (list[str] | Unset):
        reject (list[str] | Unset): Options that reject: the run ends as cancelled with the reviewer's note.
        required (int | Unset): Approvals by different reviewers needed before the run goes on; one
            rejection ends it.
        reviewers (list[str] | Unset): Who decides (emails or names): each gets an approval link.
        timeout (None | str | Unset): How long the gate waits, e.g. `"24h"`.
    """

    message: str | Unset = UNSET
    on_timeout: TimeoutAction | Unset = UNSET
    options: list[str] | Unset = UNSET
    reject: list[str] | Unset = UNSET
    required: int | Unset = UNSET
    reviewers: list[str] | Unset = UNSET
    timeout: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        message = self.message

        on_timeout: str | Unset = UNSET
        if not isinstance(self.on_timeout, Unset):
            on_timeout = self.on_timeout.value

        options: list[str] | Unset = UNSET
        if not isinstance(self.options, Unset):
            options = self.options

        reject: list[str] | Unset = UNSET
        if not isinstance(self.reject, Unset):
            reject = self.reject

        required = self.required

        reviewers: list[str] | Unset = UNSET
        if not isinstance(self.reviewers, Unset):
            reviewers = self.reviewers

        timeout: None | str | Unset
        if isinstance(self.timeout, Unset):
            timeout = UNSET
        else:
            timeout = self.timeout

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if message is not UNSET:
            field_dict["message"] = message
        if on_timeout is not UNSET:
            field_dict["on_timeout"] = on_timeout
        if options is not UNSET:
            field_dict["options"] = options
        if reject is not UNSET:
            field_dict["reject"] = reject
        if required is not UNSET:
            field_dict["required"] = required
        if reviewers is not UNSET:
            field_dict["reviewers"] = reviewers
        if timeout is not UNSET:
            field_dict["timeout"] = timeout

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        message = d.pop("message", UNSET)

        _on_timeout = d.pop("on_timeout", UNSET)
        on_timeout: TimeoutAction | Unset
        if isinstance(_on_timeout, Unset):
            on_timeout = UNSET
        else:
            on_timeout = TimeoutAction(_on_timeout)

        options = cast(list[str], d.pop("options", UNSET))

        reject = cast(list[str], d.pop("reject", UNSET))

        required = d.pop("required", UNSET)

        reviewers = cast(list[str], d.pop("reviewers", UNSET))

        def _parse_timeout(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        timeout = _parse_timeout(d.pop("timeout", UNSET))

        approval_gate = cls(
            message=message,
            on_timeout=on_timeout,
            options=options,
            reject=reject,
            required=required,
            reviewers=reviewers,
            timeout=timeout,
        )

        return approval_gate
