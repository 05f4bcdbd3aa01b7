from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.plan_state import PlanState

if TYPE_CHECKING:
    from ..models.plan_decision_view import PlanDecisionView


T = TypeVar("T", bound="PlanView")


@_attrs_define
class PlanView:
    """A planned workflow's provenance and review.

    Attributes:
        attempts (int): Model calls it took.
        created_at (str):
        decisions (list[PlanDecisionView]): Every decision on the plan, oldest first.
        goal (str): The goal as the owner wrote it.
        model (str): The model that wrote the plan.
        reviewers (list[str]): Who reviews the plan.
        state (PlanState):
        steps (list[str]): The latest version's steps, as a person reads them.
    """

    attempts: int
    created_at: str
    decisions: list[PlanDecisionView]
    goal: str
    model: str
    reviewers: list[str]
    state: PlanState
    steps: list[str]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempts = self.attempts

        created_at = self.created_at

        decisions = []
        for decisions_item_data in self.decisions:
            decisions_item = decisions_item_data.to_dict()
            decisions.append(decisions_item)

        goal = self.goal

        model = self.model

        reviewers = self.reviewers

        state = self.state.value

        steps = self.steps

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempts": attempts,
                "created_at": created_at,
                "decisions": decisions,
                "goal": goal,
                "model": model,
                "reviewers": reviewers,
                "state": state,
                "steps": steps,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.plan_decision_view import PlanDecisionView  # noqa: PLC0415

        d = dict(src_dict)
        attempts = d.pop("attempts")

        created_at = d.pop("created_at")

        decisions = []
        _decisions = d.pop("decisions")
        for decisions_item_data in _decisions:
            decisions_item = PlanDecisionView.from_dict(decisions_item_data)

            decisions.append(decisions_item)

        goal = d.pop("goal")

        model = d.pop("model")

        reviewers = cast(list[str], d.pop("reviewers"))

        state = PlanState(d.pop("state"))

        steps = cast(list[str], d.pop("steps"))

        plan_view = cls(
            attempts=attempts,
            created_at=created_at,
            decisions=decisions,
            goal=goal,
            model=model,
            reviewers=reviewers,
            state=state,
            steps=steps,
        )

        plan_view.additional_properties = d
        return plan_view

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
