from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.step_definition import StepDefinition


T = TypeVar("T", bound="MapOver")


@_attrs_define
class MapOver:
    """`map`: `steps` run for each item of the array `items` renders to, with
    `item` and `index` in their templates' scope, `concurrency` items at
    once; the output is the array of the items' outputs, in order.

        Attributes:
            items (Any): A template giving a JSON array (or an array literal).
            steps (list[StepDefinition]): What runs for each item.
            concurrency (int | Unset): Items run at once (at most 1,000).
    """

    items: Any
    steps: list[StepDefinition]
    concurrency: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        items = self.items

        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)

        concurrency = self.concurrency

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "items": items,
                "steps": steps,
            }
        )
        if concurrency is not UNSET:
            field_dict["concurrency"] = concurrency

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.step_definition import StepDefinition  # noqa: PLC0415

        d = dict(src_dict)
        items = d.pop("items")

        steps = []
        _steps = d.pop("steps")
        for steps_item_data in _steps:
            steps_item = StepDefinition.from_dict(steps_item_data)

            steps.append(steps_item)

        concurrency = d.pop("concurrency", UNSET)

        map_over = cls(
            items=items,
            steps=steps,
            concurrency=concurrency,
        )

        return map_over
