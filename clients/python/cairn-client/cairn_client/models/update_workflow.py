from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.workflow_definition import WorkflowDefinition


T = TypeVar("T", bound="UpdateWorkflow")


@_attrs_define
class UpdateWorkflow:
    """
    Attributes:
        definition (WorkflowDefinition): A workflow as its author writes it (JSON).
    """

    definition: WorkflowDefinition

    def to_dict(self) -> dict[str, Any]:
        definition = self.definition.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "definition": definition,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.workflow_definition import WorkflowDefinition  # noqa: PLC0415

        d = dict(src_dict)
        definition = WorkflowDefinition.from_dict(d.pop("definition"))

        update_workflow = cls(
            definition=definition,
        )

        return update_workflow
