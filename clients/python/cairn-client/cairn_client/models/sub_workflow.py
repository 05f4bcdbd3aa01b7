from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="SubWorkflow")


@_attrs_define
class SubWorkflow:
    """`workflow`: another workflow of the same tenant, started as a child run
    (on its active version) with the step's `input`, and waited for.

        Attributes:
            id (str): The child workflow's id.
            fail_on_error (bool | Unset): Whether the child's failure fails the step (else it is the output).
    """

    id: str
    fail_on_error: bool | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        fail_on_error = self.fail_on_error

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
            }
        )
        if fail_on_error is not UNSET:
            field_dict["fail_on_error"] = fail_on_error

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        fail_on_error = d.pop("fail_on_error", UNSET)

        sub_workflow = cls(
            id=id,
            fail_on_error=fail_on_error,
        )

        return sub_workflow
