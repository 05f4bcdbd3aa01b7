from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.workflow_definition import WorkflowDefinition


T = TypeVar("T", bound="VersionBody")


@_attrs_define
class VersionBody:
    """A version of a workflow, with its definition.

    Attributes:
        definition (WorkflowDefinition): A workflow as its author writes it (JSON).
        id (str):
        latest (bool): Whether it is the version new runs start on.
        name (str):
        version (int):
    """

    definition: WorkflowDefinition
    id: str
    latest: bool
    name: str
    version: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        definition = self.definition.to_dict()

        id = self.id

        latest = self.latest

        name = self.name

        version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "definition": definition,
                "id": id,
                "latest": latest,
                "name": name,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.workflow_definition import WorkflowDefinition  # noqa: PLC0415

        d = dict(src_dict)
        definition = WorkflowDefinition.from_dict(d.pop("definition"))

        id = d.pop("id")

        latest = d.pop("latest")

        name = d.pop("name")

        version = d.pop("version")

        version_body = cls(
            definition=definition,
            id=id,
            latest=latest,
            name=name,
            version=version,
        )

        version_body.additional_properties = d
        return version_body

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
