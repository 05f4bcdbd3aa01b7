from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.run_status import RunStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.pending_action import PendingAction
    from ..models.progress import Progress
    from ..models.run_failure import RunFailure
    from ..models.step_view import StepView
    from ..models.trigger_type_0 import TriggerType0
    from ..models.trigger_type_1 import TriggerType1
    from ..models.trigger_type_2 import TriggerType2
    from ..models.trigger_type_3 import TriggerType3


T = TypeVar("T", bound="RunView")


@_attrs_define
class RunView:
    """
    Attributes:
        created_at (str):
        id (str):
        input_ (Any):
        last_event (int): Sequence number of the run's latest event.
        number (int): Its place among the workflow's runs: #1, #2, ...
        pending_actions (list[PendingAction]): What the run's steps wait for, one per waiting step (at most
            100; `waiting_steps` counts them all). Resume names the step.
        progress (Progress):
        status (RunStatus): `pending → running → (paused ⇄ running) → completed | failed | cancelled`
            (a decision that finishes the last step completes a paused run)
        steps (list[StepView]): The steps of the top list, and of branches and cases, in the order
            they were entered; the steps of a map's items are summarised on the
            map's step (`items`) and paged by `GET /v1/runs/{id}/steps/{path}`.
        updated_at (str):
        waiting_steps (int): How many steps wait for a decision.
        workflow_id (str):
        workflow_version (int):
        error (None | RunFailure | Unset):
        parent (None | str | Unset): The run whose `workflow` step started this one.
        pause_deadline (None | str | Unset):
        pending_action (None | PendingAction | Unset):
        result (Any | Unset):
        trigger (None | TriggerType0 | TriggerType1 | TriggerType2 | TriggerType3 | Unset):
    """

    created_at: str
    id: str
    input_: Any
    last_event: int
    number: int
    pending_actions: list[PendingAction]
    progress: Progress
    status: RunStatus
    steps: list[StepView]
    updated_at: str
    waiting_steps: int
    workflow_id: str
    workflow_version: int
    error: None | RunFailure | Unset = UNSET
    parent: None | str | Unset = UNSET
    pause_deadline: None | str | Unset = UNSET
    pending_action: None | PendingAction | Unset = UNSET
    result: Any | Unset = UNSET
    trigger: None | TriggerType0 | TriggerType1 | TriggerType2 | TriggerType3 | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.pending_action import PendingAction  # noqa: PLC0415
        from ..models.run_failure import RunFailure  # noqa: PLC0415
        from ..models.trigger_type_0 import TriggerType0  # noqa: PLC0415
        from ..models.trigger_type_1 import TriggerType1  # noqa: PLC0415
        from ..models.trigger_type_2 import TriggerType2  # noqa: PLC0415
        from ..models.trigger_type_3 import TriggerType3  # noqa: PLC0415

        created_at = self.created_at

        id = self.id

        input_ = self.input_

        last_event = self.last_event

        number = self.number

        pending_actions = []
        for pending_actions_item_data in self.pending_actions:
            pending_actions_item = pending_actions_item_data.to_dict()
            pending_actions.append(pending_actions_item)

        progress = self.progress.to_dict()

        status = self.status.value

        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)

        updated_at = self.updated_at

        waiting_steps = self.waiting_steps

        workflow_id = self.workflow_id

        workflow_version = self.workflow_version

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, RunFailure):
            error = self.error.to_dict()
        else:
            error = self.error

        parent: None | str | Unset
        if isinstance(self.parent, Unset):
            parent = UNSET
        else:
            parent = self.parent

        pause_deadline: None | str | Unset
        if isinstance(self.pause_deadline, Unset):
            pause_deadline = UNSET
        else:
            pause_deadline = self.pause_deadline

        pending_action: dict[str, Any] | None | Unset
        if isinstance(self.pending_action, Unset):
            pending_action = UNSET
        elif isinstance(self.pending_action, PendingAction):
            pending_action = self.pending_action.to_dict()
        else:
            pending_action = self.pending_action

        result = self.result

        trigger: dict[str, Any] | None | Unset
        if isinstance(self.trigger, Unset):
            trigger = UNSET
        elif isinstance(self.trigger, TriggerType0):
            trigger = self.trigger.to_dict()
        elif isinstance(self.trigger, TriggerType1):
            trigger = self.trigger.to_dict()
        elif isinstance(self.trigger, TriggerType2):
            trigger = self.trigger.to_dict()
        elif isinstance(self.trigger, TriggerType3):
            trigger = self.trigger.to_dict()
        else:
            trigger = self.trigger

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "id": id,
                "input": input_,
                "last_event": last_event,
                "number": number,
                "pending_actions": pending_actions,
                "progress": progress,
                "status": status,
                "steps": steps,
                "updated_at": updated_at,
                "waiting_steps": waiting_steps,
                "workflow_id": workflow_id,
                "workflow_version": workflow_version,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error
        if parent is not UNSET:
            field_dict["parent"] = parent
        if pause_deadline is not UNSET:
            field_dict["pause_deadline"] = pause_deadline
        if pending_action is not UNSET:
            field_dict["pending_action"] = pending_action
        if result is not UNSET:
            field_dict["result"] = result
        if trigger is not UNSET:
            field_dict["trigger"] = trigger

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.pending_action import PendingAction  # noqa: PLC0415
        from ..models.progress import Progress  # noqa: PLC0415
        from ..models.run_failure import RunFailure  # noqa: PLC0415
        from ..models.step_view import StepView  # noqa: PLC0415
        from ..models.trigger_type_0 import TriggerType0  # noqa: PLC0415
        from ..models.trigger_type_1 import TriggerType1  # noqa: PLC0415
        from ..models.trigger_type_2 import TriggerType2  # noqa: PLC0415
        from ..models.trigger_type_3 import TriggerType3  # noqa: PLC0415

        d = dict(src_dict)
        created_at = d.pop("created_at")

        id = d.pop("id")

        input_ = d.pop("input")

        last_event = d.pop("last_event")

        number = d.pop("number")

        pending_actions = []
        _pending_actions = d.pop("pending_actions")
        for pending_actions_item_data in _pending_actions:
            pending_actions_item = PendingAction.from_dict(pending_actions_item_data)

            pending_actions.append(pending_actions_item)

        progress = Progress.from_dict(d.pop("progress"))

        status = RunStatus(d.pop("status"))

        steps = []
        _steps = d.pop("steps")
        for steps_item_data in _steps:
            steps_item = StepView.from_dict(steps_item_data)

            steps.append(steps_item)

        updated_at = d.pop("updated_at")

        waiting_steps = d.pop("waiting_steps")

        workflow_id = d.pop("workflow_id")

        workflow_version = d.pop("workflow_version")

        def _parse_error(data: object) -> None | RunFailure | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = RunFailure.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RunFailure | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_parent(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        parent = _parse_parent(d.pop("parent", UNSET))

        def _parse_pause_deadline(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        pause_deadline = _parse_pause_deadline(d.pop("pause_deadline", UNSET))

        def _parse_pending_action(data: object) -> None | PendingAction | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                pending_action_type_0 = PendingAction.from_dict(data)

                return pending_action_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PendingAction | Unset, data)

        pending_action = _parse_pending_action(d.pop("pending_action", UNSET))

        result = d.pop("result", UNSET)

        def _parse_trigger(data: object) -> None | TriggerType0 | TriggerType1 | TriggerType2 | TriggerType3 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_trigger_type_0 = TriggerType0.from_dict(data)

                return componentsschemas_trigger_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_trigger_type_1 = TriggerType1.from_dict(data)

                return componentsschemas_trigger_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_trigger_type_2 = TriggerType2.from_dict(data)

                return componentsschemas_trigger_type_2
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_trigger_type_3 = TriggerType3.from_dict(data)

                return componentsschemas_trigger_type_3
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TriggerType0 | TriggerType1 | TriggerType2 | TriggerType3 | Unset, data)

        trigger = _parse_trigger(d.pop("trigger", UNSET))

        run_view = cls(
            created_at=created_at,
            id=id,
            input_=input_,
            last_event=last_event,
            number=number,
            pending_actions=pending_actions,
            progress=progress,
            status=status,
            steps=steps,
            updated_at=updated_at,
            waiting_steps=waiting_steps,
            workflow_id=workflow_id,
            workflow_version=workflow_version,
            error=error,
            parent=parent,
            pause_deadline=pause_deadline,
            pending_action=pending_action,
            result=result,
            trigger=trigger,
        )

        run_view.additional_properties = d
        return run_view

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
