from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..models.fail_mode import FailMode
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.parallel_branches import ParallelBranches


T = TypeVar("T", bound="Parallel")


@_attrs_define
class Parallel:
    """`parallel`: named branches run at once; the output is an object keyed by
    branch (each branch's last output).

        Attributes:
            branches (ParallelBranches): Each branch's steps, by branch name.
            fail (FailMode | Unset): What a `parallel` does when a branch fails.
    """

    branches: ParallelBranches
    fail: FailMode | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        branches = self.branches.to_dict()

        fail: str | Unset = UNSET
        if not isinstance(self.fail, Unset):
            fail = self.fail.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "branches": branches,
            }
        )
        if fail is not UNSET:
            field_dict["fail"] = fail

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.parallel_branches import ParallelBranches  # noqa: PLC0415

        d = dict(src_dict)
        branches = ParallelBranches.from_dict(d.pop("branches"))

        _fail = d.pop("fail", UNSET)
        fail: FailMode | Unset
        if isinstance(_fail, Unset):
            fail = UNSET
        else:
            fail = FailMode(_fail)

        parallel = cls(
            branches=branches,
            fail=fail,
        )

        return parallel
