from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.step_definition import StepDefinition


T = TypeVar("T", bound="Case")


@_attrs_define
class Case:
    """
    Attributes:
        name (str): How paths and the switch's output name the case.
        steps (list[StepDefinition]):
        when (str): A condition, as a step's `when`.
    """

    name: str
    steps: list[StepDefinition]
    when: str

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)

        when = self.when

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "steps": steps,
                "when": when,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.step_definition import StepDefinition  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        steps = []
        _steps = d.pop("steps")
        for steps_item_data in _steps:
            steps_item = StepDefinition.from_dict(steps_item_data)

            steps.append(steps_item)

        when = d.pop("when")

        case = cls(
            name=name,
            steps=steps,
            when=when,
        )

        return case
