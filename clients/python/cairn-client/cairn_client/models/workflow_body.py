from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.workflow_status import WorkflowStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.plan_view import PlanView
    from ..models.problem import Problem
    from ..models.recent_run import RecentRun
    from ..models.schedule_summary import ScheduleSummary
    from ..models.workflow_definition import WorkflowDefinition


T = TypeVar("T", bound="WorkflowBody")


@_attrs_define
class WorkflowBody:
    """A workflow: its latest version, and (when one is asked for) its definition
    and recent runs.

        Attributes:
            created_at (str):
            id (str):
            name (str):
            status (WorkflowStatus): A workflow's lifecycle status.
            step_count (int): Step entries in the definition, those inside constructs included.
            updated_at (str):
            version (int):
            definition (None | Unset | WorkflowDefinition):
            description (None | str | Unset): The definition's `description`.
            latest_run (None | RecentRun | Unset):
            message (None | str | Unset): What happens next (when a plan was just made).
            plan (None | PlanView | Unset):
            recent_runs (list[RecentRun] | None | Unset): The ten newest runs (on `GET /v1/workflows/{id}` only).
            schedule (None | ScheduleSummary | Unset):
            warnings (list[Problem] | Unset): What the definition should still change, though it was accepted
                (on create and update): e.g. a step that publishes with no approval
                before it.
    """

    created_at: str
    id: str
    name: str
    status: WorkflowStatus
    step_count: int
    updated_at: str
    version: int
    definition: None | Unset | WorkflowDefinition = UNSET
    description: None | str | Unset = UNSET
    latest_run: None | RecentRun | Unset = UNSET
    message: None | str | Unset = UNSET
    plan: None | PlanView | Unset = UNSET
    recent_runs: list[RecentRun] | None | Unset = UNSET
    schedule: None | ScheduleSummary | Unset = UNSET
    warnings: list[Problem] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.plan_view import PlanView  # noqa: PLC0415
        from ..models.recent_run import RecentRun  # noqa: PLC0415
        from ..models.schedule_summary import ScheduleSummary  # noqa: PLC0415
        from ..models.workflow_definition import WorkflowDefinition  # noqa: PLC0415

        created_at = self.created_at

        id = self.id

        name = self.name

        status = self.status.value

        step_count = self.step_count

        updated_at = self.updated_at

        version = self.version

        definition: dict[str, Any] | None | Unset
        if isinstance(self.definition, Unset):
            definition = UNSET
        elif isinstance(self.definition, WorkflowDefinition):
            definition = self.definition.to_dict()
        else:
            definition = self.definition

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        latest_run: dict[str, Any] | None | Unset
        if isinstance(self.latest_run, Unset):
            latest_run = UNSET
        elif isinstance(self.latest_run, RecentRun):
            latest_run = self.latest_run.to_dict()
        else:
            latest_run = self.latest_run

        message: None | str | Unset
        if isinstance(self.message, Unset):
            message = UNSET
        else:
            message = self.message

        plan: dict[str, Any] | None | Unset
        if isinstance(self.plan, Unset):
            plan = UNSET
        elif isinstance(self.plan, PlanView):
            plan = self.plan.to_dict()
        else:
            plan = self.plan

        recent_runs: list[dict[str, Any]] | None | Unset
        if isinstance(self.recent_runs, Unset):
            recent_runs = UNSET
        elif isinstance(self.recent_runs, list):
            recent_runs = []
            for recent_runs_type_0_item_data in self.recent_runs:
                recent_runs_type_0_item = recent_runs_type_0_item_data.to_dict()
                recent_runs.append(recent_runs_type_0_item)

        else:
            recent_runs = self.recent_runs

        schedule: dict[str, Any] | None | Unset
        if isinstance(self.schedule, Unset):
            schedule = UNSET
        elif isinstance(self.schedule, ScheduleSummary):
            schedule = self.schedule.to_dict()
        else:
            schedule = self.schedule

        warnings: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.warnings, Unset):
            warnings = []
            for warnings_item_data in self.warnings:
                warnings_item = warnings_item_data.to_dict()
                warnings.append(warnings_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "id": id,
                "name": name,
                "status": status,
                "step_count": step_count,
                "updated_at": updated_at,
                "version": version,
            }
        )
        if definition is not UNSET:
            field_dict["definition"] = definition
        if description is not UNSET:
            field_dict["description"] = description
        if latest_run is not UNSET:
            field_dict["latest_run"] = latest_run
        if message is not UNSET:
            field_dict["message"] = message
        if plan is not UNSET:
            field_dict["plan"] = plan
        if recent_runs is not UNSET:
            field_dict["recent_runs"] = recent_runs
        if schedule is not UNSET:
            field_dict["schedule"] = schedule
        if warnings is not UNSET:
            field_dict["warnings"] = warnings

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.plan_view import PlanView  # noqa: PLC0415
        from ..models.problem import Problem  # noqa: PLC0415
        from ..models.recent_run import RecentRun  # noqa: PLC0415
        from ..models.schedule_summary import ScheduleSummary  # noqa: PLC0415
        from ..models.workflow_definition import WorkflowDefinition  # noqa: PLC0415

        d = dict(src_dict)
        created_at = d.pop("created_at")

        id = d.pop("id")

        name = d.pop("name")

        status = WorkflowStatus(d.pop("status"))

        step_count = d.pop("step_count")

        updated_at = d.pop("updated_at")

        version = d.pop("version")

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

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_latest_run(data: object) -> None | RecentRun | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                latest_run_type_0 = RecentRun.from_dict(data)

                return latest_run_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RecentRun | Unset, data)

        latest_run = _parse_latest_run(d.pop("latest_run", UNSET))

        def _parse_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message = _parse_message(d.pop("message", UNSET))

        def _parse_plan(data: object) -> None | PlanView | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                plan_type_0 = PlanView.from_dict(data)

                return plan_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PlanView | Unset, data)

        plan = _parse_plan(d.pop("plan", UNSET))

        def _parse_recent_runs(data: object) -> list[RecentRun] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                recent_runs_type_0 = []
                _recent_runs_type_0 = data
                for recent_runs_type_0_item_data in _recent_runs_type_0:
                    recent_runs_type_0_item = RecentRun.from_dict(recent_runs_type_0_item_data)

                    recent_runs_type_0.append(recent_runs_type_0_item)

                return recent_runs_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[RecentRun] | None | Unset, data)

        recent_runs = _parse_recent_runs(d.pop("recent_runs", UNSET))

        def _parse_schedule(data: object) -> None | ScheduleSummary | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                schedule_type_0 = ScheduleSummary.from_dict(data)

                return schedule_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ScheduleSummary | Unset, data)

        schedule = _parse_schedule(d.pop("schedule", UNSET))

        _warnings = d.pop("warnings", UNSET)
        warnings: list[Problem] | Unset = UNSET
        if _warnings is not UNSET:
            warnings = []
            for warnings_item_data in _warnings:
                warnings_item = Problem.from_dict(warnings_item_data)

                warnings.append(warnings_item)

        workflow_body = cls(
            created_at=created_at,
            id=id,
            name=name,
            status=status,
            step_count=step_count,
            updated_at=updated_at,
            version=version,
            definition=definition,
            description=description,
            latest_run=latest_run,
            message=message,
            plan=plan,
            recent_runs=recent_runs,
            schedule=schedule,
            warnings=warnings,
        )

        workflow_body.additional_properties = d
        return workflow_body

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
