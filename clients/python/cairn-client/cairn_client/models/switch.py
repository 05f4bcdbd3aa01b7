from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.case import Case
    from ..models.step_definition import StepDefinition


T = TypeVar("T", bound="Switch")


@_attrs_define
class Switch:
    """`switch`: the first case whose `when` holds runs; else the `default`, if
    any. The output is `{"case": name, "output": that case's last output}`.

        Attributes:
            cases (list[Case]):
            default (list[StepDefinition] | None | Unset): What runs when no case holds; without it, that fails the step.
    """

    cases: list[Case]
    default: list[StepDefinition] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        cases = []
        for cases_item_data in self.cases:
            cases_item = cases_item_data.to_dict()
            cases.append(cases_item)

        default: list[dict[str, Any]] | None | Unset
        if isinstance(self.default, Unset):
            default = UNSET
        elif isinstance(self.default, list):
            default = []
            for default_type_0_item_data in self.default:
                default_type_0_item = default_type_0_item_data.to_dict()
                default.append(default_type_0_item)

        else:
            default = self.default

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cases": cases,
            }
        )
        if default is not UNSET:
            field_dict["default"] = default

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.case import Case  # noqa: PLC0415
        from ..models.step_definition import StepDefinition  # noqa: PLC0415

        d = dict(src_dict)
        cases = []
        _cases = d.pop("cases")
        for cases_item_data in _cases:
            cases_item = Case.from_dict(cases_item_data)

            cases.append(cases_item)

        def _parse_default(data: object) -> list[StepDefinition] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                default_type_0 = []
                _default_type_0 = data
                for default_type_0_item_data in _default_type_0:
                    default_type_0_item = StepDefinition.from_dict(default_type_0_item_data)

                    default_type_0.append(default_type_0_item)

                return default_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[StepDefinition] | None | Unset, data)

        default = _parse_default(d.pop("default", UNSET))

        switch = cls(
            cases=cases,
            default=default,
        )

        return switch
