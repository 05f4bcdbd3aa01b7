from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.step_status import StepStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.decision import Decision
    from ..models.items_summary import ItemsSummary
    from ..models.step_failure import StepFailure
    from ..models.step_log import StepLog


T = TypeVar("T", bound="StepView")


@_attrs_define
class StepView:
    """
    Attributes:
        attempts (int):
        name (str):
        status (StepStatus): `pending → running → (awaiting_input) → completed | failed | skipped | cancelled`
        case (None | str | Unset): The case a switch runs.
        child_run (None | str | Unset): The child run a `workflow` step started.
        deadline (None | str | Unset): When its wait for a decision times out.
        decisions (list[Decision] | None | Unset): A gate's decisions: who decided what, with which note, when and
            through which channel (`api`, `link` or `timer`).
        error (None | StepFailure | Unset):
        finished_at (None | str | Unset):
        items (ItemsSummary | None | Unset):
        logs (list[StepLog] | None | Unset): What the step's attempts logged, latest lines kept.
        output (Any | Unset):
        started_at (None | str | Unset):
        wait_until (None | str | Unset): Until when a wait waits.
    """

    attempts: int
    name: str
    status: StepStatus
    case: None | str | Unset = UNSET
    child_run: None | str | Unset = UNSET
    deadline: None | str | Unset = UNSET
    decisions: list[Decision] | None | Unset = UNSET
    error: None | StepFailure | Unset = UNSET
    finished_at: None | str | Unset = UNSET
    items: ItemsSummary | None | Unset = UNSET
    logs: list[StepLog] | None | Unset = UNSET
    output: Any | Unset = UNSET
    started_at: None | str | Unset = UNSET
    wait_until: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.items_summary import ItemsSummary  # noqa: PLC0415
        from ..models.step_failure import StepFailure  # noqa: PLC0415

        attempts = self.attempts

        name = self.name

        status = self.status.value

        case: None | str | Unset
        if isinstance(self.case, Unset):
            case = UNSET
        else:
            case = self.case

        child_run: None | str | Unset
        if isinstance(self.child_run, Unset):
            child_run = UNSET
        else:
            child_run = self.child_run

        deadline: None | str | Unset
        if isinstance(self.deadline, Unset):
            deadline = UNSET
        else:
            deadline = self.deadline

        decisions: list[dict[str, Any]] | None | Unset
        if isinstance(self.decisions, Unset):
            decisions = UNSET
        elif isinstance(self.decisions, list):
            decisions = []
            for decisions_type_0_item_data in self.decisions:
                decisions_type_0_item = decisions_type_0_item_data.to_dict()
                decisions.append(decisions_type_0_item)

        else:
            decisions = self.decisions

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, StepFailure):
            error = self.error.to_dict()
        else:
            error = self.error

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        else:
            finished_at = self.finished_at

        items: dict[str, Any] | None | Unset
        if isinstance(self.items, Unset):
            items = UNSET
        elif isinstance(self.items, ItemsSummary):
            items = self.items.to_dict()
        else:
            items = self.items

        logs: list[dict[str, Any]] | None | Unset
        if isinstance(self.logs, Unset):
            logs = UNSET
        elif isinstance(self.logs, list):
            logs = []
            for logs_type_0_item_data in self.logs:
                logs_type_0_item = logs_type_0_item_data.to_dict()
                logs.append(logs_type_0_item)

        else:
            logs = self.logs

        output = self.output

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        else:
            started_at = self.started_at

        wait_until: None | str | Unset
        if isinstance(self.wait_until, Unset):
            wait_until = UNSET
        else:
            wait_until = self.wait_until

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempts": attempts,
                "name": name,
                "status": status,
            }
        )
        if case is not UNSET:
            field_dict["case"] = case
        if child_run is not UNSET:
            field_dict["child_run"] = child_run
        if deadline is not UNSET:
            field_dict["deadline"] = deadline
        if decisions is not UNSET:
            field_dict["decisions"] = decisions
        if error is not UNSET:
            field_dict["error"] = error
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if items is not UNSET:
            field_dict["items"] = items
        if logs is not UNSET:
            field_dict["logs"] = logs
        if output is not UNSET:
            field_dict["output"] = output
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if wait_until is not UNSET:
            field_dict["wait_until"] = wait_until

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.decision import Decision  # noqa: PLC0415
        from ..models.items_summary import ItemsSummary  # noqa: PLC0415
        from ..models.step_failure import StepFailure  # noqa: PLC0415
        from ..models.step_log import StepLog  # noqa: PLC0415

        d = dict(src_dict)
        attempts = d.pop("attempts")

        name = d.pop("name")

        status = StepStatus(d.pop("status"))

        def _parse_case(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        case = _parse_case(d.pop("case", UNSET))

        def _parse_child_run(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        child_run = _parse_child_run(d.pop("child_run", UNSET))

        def _parse_deadline(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deadline = _parse_deadline(d.pop("deadline", UNSET))

        def _parse_decisions(data: object) -> list[Decision] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                decisions_type_0 = []
                _decisions_type_0 = data
                for decisions_type_0_item_data in _decisions_type_0:
                    decisions_type_0_item = Decision.from_dict(decisions_type_0_item_data)

                    decisions_type_0.append(decisions_type_0_item)

                return decisions_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Decision] | None | Unset, data)

        decisions = _parse_decisions(d.pop("decisions", UNSET))

        def _parse_error(data: object) -> None | StepFailure | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = StepFailure.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | StepFailure | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_finished_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))

        def _parse_items(data: object) -> ItemsSummary | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                items_type_0 = ItemsSummary.from_dict(data)

                return items_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ItemsSummary | None | Unset, data)

        items = _parse_items(d.pop("items", UNSET))

        def _parse_logs(data: object) -> list[StepLog] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                logs_type_0 = []
                _logs_type_0 = data
                for logs_type_0_item_data in _logs_type_0:
                    logs_type_0_item = StepLog.from_dict(logs_type_0_item_data)

                    logs_type_0.append(logs_type_0_item)

                return logs_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[StepLog] | None | Unset, data)

        logs = _parse_logs(d.pop("logs", UNSET))

        output = d.pop("output", UNSET)

        def _parse_started_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        started_at = _parse_started_at(d.pop("started_at", UNSET))

        def _parse_wait_until(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        wait_until = _parse_wait_until(d.pop("wait_until", UNSET))

        step_view = cls(
            attempts=attempts,
            name=name,
            status=status,
            case=case,
            child_run=child_run,
            deadline=deadline,
            decisions=decisions,
            error=error,
            finished_at=finished_at,
            items=items,
            logs=logs,
            output=output,
            started_at=started_at,
            wait_until=wait_until,
        )

        step_view.additional_properties = d
        return step_view

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
