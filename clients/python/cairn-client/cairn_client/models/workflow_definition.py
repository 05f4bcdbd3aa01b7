from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.concurrency_policy import ConcurrencyPolicy
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.notifications import Notifications
    from ..models.schedule_spec import ScheduleSpec
    from ..models.step_definition import StepDefinition


T = TypeVar("T", bound="WorkflowDefinition")


@_attrs_define
class WorkflowDefinition:
    """A workflow as its author writes it (JSON).

    Attributes:
        name (str):
        steps (list[StepDefinition]):
        concurrency (ConcurrencyPolicy | Unset):
        description (str | Unset):
        notifications (None | Notifications | Unset):
        paused_lifetime (None | str | Unset): How long a run may stay paused before it times out, e.g. `"72h"`;
            a gate's own `timeout` takes precedence. Unset: paused runs wait forever.
        schedule (None | ScheduleSpec | Unset):
    """

    name: str
    steps: list[StepDefinition]
    concurrency: ConcurrencyPolicy | Unset = UNSET
    description: str | Unset = UNSET
    notifications: None | Notifications | Unset = UNSET
    paused_lifetime: None | str | Unset = UNSET
    schedule: None | ScheduleSpec | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.notifications import Notifications  # noqa: PLC0415
        from ..models.schedule_spec import ScheduleSpec  # noqa: PLC0415

        name = self.name

        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)

        concurrency: str | Unset = UNSET
        if not isinstance(self.concurrency, Unset):
            concurrency = self.concurrency.value

        description = self.description

        notifications: dict[str, Any] | None | Unset
        if isinstance(self.notifications, Unset):
            notifications = UNSET
        elif isinstance(self.notifications, Notifications):
            notifications = self.notifications.to_dict()
        else:
            notifications = self.notifications

        paused_lifetime: None | str | Unset
        if isinstance(self.paused_lifetime, Unset):
            paused_lifetime = UNSET
        else:
            paused_lifetime = self.paused_lifetime

        schedule: dict[str, Any] | None | Unset
        if isinstance(self.schedule, Unset):
            schedule = UNSET
        elif isinstance(self.schedule, ScheduleSpec):
            schedule = self.schedule.to_dict()
        else:
            schedule = self.schedule

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "steps": steps,
            }
        )
        if concurrency is not UNSET:
            field_dict["concurrency"] = concurrency
        if description is not UNSET:
            field_dict["description"] = description
        if notifications is not UNSET:
            field_dict["notifications"] = notifications
        if paused_lifetime is not UNSET:
            field_dict["paused_lifetime"] = paused_lifetime
        if schedule is not UNSET:
            field_dict["schedule"] = schedule

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.notifications import Notifications  # noqa: PLC0415
        from ..models.schedule_spec import ScheduleSpec  # noqa: PLC0415
        from ..models.step_definition import StepDefinition  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        steps = []
        _steps = d.pop("steps")
        for steps_item_data in _steps:
            steps_item = StepDefinition.from_dict(steps_item_data)

            steps.append(steps_item)

        _concurrency = d.pop("concurrency", UNSET)
        concurrency: ConcurrencyPolicy | Unset
        if isinstance(_concurrency, Unset):
            concurrency = UNSET
        else:
            concurrency = ConcurrencyPolicy(_concurrency)

        description = d.pop("description", UNSET)

        def _parse_notifications(data: object) -> None | Notifications | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                notifications_type_0 = Notifications.from_dict(data)

                return notifications_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Notifications | Unset, data)

        notifications = _parse_notifications(d.pop("notifications", UNSET))

        def _parse_paused_lifetime(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        paused_lifetime = _parse_paused_lifetime(d.pop("paused_lifetime", UNSET))

        def _parse_schedule(data: object) -> None | ScheduleSpec | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                schedule_type_0 = ScheduleSpec.from_dict(data)

                return schedule_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ScheduleSpec | Unset, data)

        schedule = _parse_schedule(d.pop("schedule", UNSET))

        workflow_definition = cls(
            name=name,
            steps=steps,
            concurrency=concurrency,
            description=description,
            notifications=notifications,
            paused_lifetime=paused_lifetime,
            schedule=schedule,
        )

        return workflow_definition
