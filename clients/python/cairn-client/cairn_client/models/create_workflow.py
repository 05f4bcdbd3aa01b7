from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.new_status import NewStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.create_workflow_webhooks_type_0_item import CreateWorkflowWebhooksType0Item
    from ..models.workflow_definition import WorkflowDefinition


T = TypeVar("T", bound="CreateWorkflow")


@_attrs_define
class CreateWorkflow:
    """A workflow from a definition, or from a goal that a planner turns into
    one. Send `definition` (with `status`), or `goal` (with `schedule`,
    `timezone` and `notify`), not both.

        Attributes:
            definition (None | Unset | WorkflowDefinition):
            goal (None | str | Unset): What the workflow should do, in words: the server's planner writes
                it, and it is saved as a draft for review.
            notify (list[str] | None | Unset): With a goal: email addresses that review the plan (and the gates it
                gets). Default: the requesting key's name, if that is an email address.
            schedule (None | str | Unset): With a goal: a cron schedule the workflow runs on once approved.
            status (NewStatus | None | Unset):
            timezone (None | str | Unset): With a schedule: the IANA zone it is read in (default UTC).
            webhooks (list[CreateWorkflowWebhooksType0Item] | None | Unset): With a goal: webhooks told of the plan, each
                `{url, secret}` with
                `secret` a `${secret:NAME}` signing key, as in a definition's
                notifications; the body carries the plan and its approve and reject
                links.
    """

    definition: None | Unset | WorkflowDefinition = UNSET
    goal: None | str | Unset = UNSET
    notify: list[str] | None | Unset = UNSET
    schedule: None | str | Unset = UNSET
    status: NewStatus | None | Unset = UNSET
    timezone: None | str | Unset = UNSET
    webhooks: list[CreateWorkflowWebhooksType0Item] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.workflow_definition import WorkflowDefinition  # noqa: PLC0415

        definition: dict[str, Any] | None | Unset
        if isinstance(self.definition, Unset):
            definition = UNSET
        elif isinstance(self.definition, WorkflowDefinition):
            definition = self.definition.to_dict()
        else:
            definition = self.definition

        goal: None | str | Unset
        if isinstance(self.goal, Unset):
            goal = UNSET
        else:
            goal = self.goal

        notify: list[str] | None | Unset
        if isinstance(self.notify, Unset):
            notify = UNSET
        elif isinstance(self.notify, list):
            notify = self.notify

        else:
            notify = self.notify

        schedule: None | str | Unset
        if isinstance(self.schedule, Unset):
            schedule = UNSET
        else:
            schedule = self.schedule

        status: None | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        elif isinstance(self.status, NewStatus):
            status = self.status.value
        else:
            status = self.status

        timezone: None | str | Unset
        if isinstance(self.timezone, Unset):
            timezone = UNSET
        else:
            timezone = self.timezone

        webhooks: list[dict[str, Any]] | None | Unset
        if isinstance(self.webhooks, Unset):
            webhooks = UNSET
        elif isinstance(self.webhooks, list):
            webhooks = []
            for webhooks_type_0_item_data in self.webhooks:
                webhooks_type_0_item = webhooks_type_0_item_data.to_dict()
                webhooks.append(webhooks_type_0_item)

        else:
            webhooks = self.webhooks

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if definition is not UNSET:
            field_dict["definition"] = definition
        if goal is not UNSET:
            field_dict["goal"] = goal
        if notify is not UNSET:
            field_dict["notify"] = notify
        if schedule is not UNSET:
            field_dict["schedule"] = schedule
        if status is not UNSET:
            field_dict["status"] = status
        if timezone is not UNSET:
            field_dict["timezone"] = timezone
        if webhooks is not UNSET:
            field_dict["webhooks"] = webhooks

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.create_workflow_webhooks_type_0_item import CreateWorkflowWebhooksType0Item  # noqa: PLC0415
        from ..models.workflow_definition import WorkflowDefinition  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_definition(data: object) -> None | Unset | WorkflowDefinition:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                definition_type_0 = WorkflowDefinition.from_dict(data)

                return definition_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WorkflowDefinition, data)

        definition = _parse_definition(d.pop("definition", UNSET))

        def _parse_goal(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        goal = _parse_goal(d.pop("goal", UNSET))

        def _parse_notify(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                notify_type_0 = cast(list[str], data)

                return notify_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        notify = _parse_notify(d.pop("notify", UNSET))

        def _parse_schedule(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        schedule = _parse_schedule(d.pop("schedule", UNSET))

        def _parse_status(data: object) -> NewStatus | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                status_type_0 = NewStatus(data)

                return status_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(NewStatus | None | Unset, data)

        status = _parse_status(d.pop("status", UNSET))

        def _parse_timezone(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        timezone = _parse_timezone(d.pop("timezone", UNSET))

        def _parse_webhooks(data: object) -> list[CreateWorkflowWebhooksType0Item] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                webhooks_type_0 = []
                _webhooks_type_0 = data
                for webhooks_type_0_item_data in _webhooks_type_0:
                    webhooks_type_0_item = CreateWorkflowWebhooksType0Item.from_dict(webhooks_type_0_item_data)

                    webhooks_type_0.append(webhooks_type_0_item)

                return webhooks_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[CreateWorkflowWebhooksType0Item] | None | Unset, data)

        webhooks = _parse_webhooks(d.pop("webhooks", UNSET))

        create_workflow = cls(
            definition=definition,
            goal=goal,
            notify=notify,
            schedule=schedule,
            status=status,
            timezone=timezone,
            webhooks=webhooks,
        )

        return create_workflow
