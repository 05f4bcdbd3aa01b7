from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.batch_status import BatchStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.batch_progress import BatchProgress


T = TypeVar("T", bound="BatchView")


@_attrs_define
class BatchView:
    """A batch as clients see it.

    Attributes:
        created_at (str):
        id (str):
        progress (BatchProgress):
        runs (list[str]): The run ids, in the order of the inputs.
        status (BatchStatus):
        workflow_id (str):
        cancelled_at (None | str | Unset):
    """

    created_at: str
    id: str
    progress: BatchProgress
    runs: list[str]
    status: BatchStatus
    workflow_id: str
    cancelled_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        id = self.id

        progress = self.progress.to_dict()

        runs = self.runs

        status = self.status.value

        workflow_id = self.workflow_id

        cancelled_at: None | str | Unset
        if isinstance(self.cancelled_at, Unset):
            cancelled_at = UNSET
        else:
            cancelled_at = self.cancelled_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "id": id,
                "progress": progress,
                "runs": runs,
                "status": status,
                "workflow_id": workflow_id,
            }
        )
        if cancelled_at is not UNSET:
            field_dict["cancelled_at"] = cancelled_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_progress import BatchProgress  # noqa: PLC0415

        d = dict(src_dict)
        created_at = d.pop("created_at")

        id = d.pop("id")

        progress = BatchProgress.from_dict(d.pop("progress"))

        runs = cast(list[str], d.pop("runs"))

        status = BatchStatus(d.pop("status"))

        workflow_id = d.pop("workflow_id")

        def _parse_cancelled_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        cancelled_at = _parse_cancelled_at(d.pop("cancelled_at", UNSET))

        batch_view = cls(
            created_at=created_at,
            id=id,
            progress=progress,
            runs=runs,
            status=status,
            workflow_id=workflow_id,
            cancelled_at=cancelled_at,
        )

        batch_view.additional_properties = d
        return batch_view

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
