from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.catch_up import CatchUp
from ..models.overlap import Overlap

if TYPE_CHECKING:
    from ..models.fire_view import FireView


T = TypeVar("T", bound="ScheduleView")


@_attrs_define
class ScheduleView:
    """A workflow's schedule as clients see it.

    Attributes:
        catch_up (CatchUp): What happens to the slots missed while the host was down (or late).
        cron (str):
        input_ (Any):
        next_fires (list[str]): The next five slots, in the schedule's zone; empty while the schedule
            is paused or the workflow is not active.
        overlap (Overlap): What a slot does while a run of the workflow is still active.
        paused (bool):
        recent_fires (list[FireView]): The latest handled slots, newest first.
        timezone (str):
        workflow_id (str):
    """

    catch_up: CatchUp
    cron: str
    input_: Any
    next_fires: list[str]
    overlap: Overlap
    paused: bool
    recent_fires: list[FireView]
    timezone: str
    workflow_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        catch_up = self.catch_up.value

        cron = self.cron

        input_ = self.input_

        next_fires = self.next_fires

        overlap = self.overlap.value

        paused = self.paused

        recent_fires = []
        for recent_fires_item_data in self.recent_fires:
            recent_fires_item = recent_fires_item_data.to_dict()
            recent_fires.append(recent_fires_item)

        timezone = self.timezone

        workflow_id = self.workflow_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "catch_up": catch_up,
                "cron": cron,
                "input": input_,
                "next_fires": next_fires,
                "overlap": overlap,
                "paused": paused,
                "recent_fires": recent_fires,
                "timezone": timezone,
                "workflow_id": workflow_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.fire_view import FireView  # noqa: PLC0415

        d = dict(src_dict)
        catch_up = CatchUp(d.pop("catch_up"))

        cron = d.pop("cron")

        input_ = d.pop("input")

        next_fires = cast(list[str], d.pop("next_fires"))

        overlap = Overlap(d.pop("overlap"))

        paused = d.pop("paused")

        recent_fires = []
        _recent_fires = d.pop("recent_fires")
        for recent_fires_item_data in _recent_fires:
            recent_fires_item = FireView.from_dict(recent_fires_item_data)

            recent_fires.append(recent_fires_item)

        timezone = d.pop("timezone")

        workflow_id = d.pop("workflow_id")

        schedule_view = cls(
            catch_up=catch_up,
            cron=cron,
            input_=input_,
            next_fires=next_fires,
            overlap=overlap,
            paused=paused,
            recent_fires=recent_fires,
            timezone=timezone,
            workflow_id=workflow_id,
        )

        schedule_view.additional_properties = d
        return schedule_view

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
