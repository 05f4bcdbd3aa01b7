from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="Resume")


@_attrs_define
class Resume:
    """
    Attributes:
        input_ (Any): An option (`"approve"`, or `{"decision": "reject", "note": "..."}`) when
            the pending action offers options, else a value its input schema accepts.
        step (str): The step the run is paused at.
        reviewer (None | str | Unset): A label for the audit trail, recorded beside the decision. The decision
            counts for the API key's name (its holder's identity), whatever this
            says: a label never counts as a second reviewer in a quorum.
    """

    input_: Any
    step: str
    reviewer: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        input_ = self.input_

        step = self.step

        reviewer: None | str | Unset
        if isinstance(self.reviewer, Unset):
            reviewer = UNSET
        else:
            reviewer = self.reviewer

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "input": input_,
                "step": step,
            }
        )
        if reviewer is not UNSET:
            field_dict["reviewer"] = reviewer

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        input_ = d.pop("input")

        step = d.pop("step")

        def _parse_reviewer(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reviewer = _parse_reviewer(d.pop("reviewer", UNSET))

        resume = cls(
            input_=input_,
            step=step,
            reviewer=reviewer,
        )

        return resume
