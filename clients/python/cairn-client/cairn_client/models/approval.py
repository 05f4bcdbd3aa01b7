from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.approval_link import ApprovalLink
    from ..models.pending_action import PendingAction


T = TypeVar("T", bound="Approval")


@_attrs_define
class Approval:
    """A step waiting for a person (a run has one entry per waiting step).

    Attributes:
        links (list[ApprovalLink]): The gate's reviewers and their approval links.
        run_id (str):
        waiting_since (str):
        workflow_id (str):
        deadline (None | str | Unset): When the pause times out, if it does.
        pending_action (None | PendingAction | Unset):
        step (None | str | Unset): The step that waits (its path).
    """

    links: list[ApprovalLink]
    run_id: str
    waiting_since: str
    workflow_id: str
    deadline: None | str | Unset = UNSET
    pending_action: None | PendingAction | Unset = UNSET
    step: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.pending_action import PendingAction  # noqa: PLC0415

        links = []
        for links_item_data in self.links:
            links_item = links_item_data.to_dict()
            links.append(links_item)

        run_id = self.run_id

        waiting_since = self.waiting_since

        workflow_id = self.workflow_id

        deadline: None | str | Unset
        if isinstance(self.deadline, Unset):
            deadline = UNSET
        else:
            deadline = self.deadline

        pending_action: dict[str, Any] | None | Unset
        if isinstance(self.pending_action, Unset):
            pending_action = UNSET
        elif isinstance(self.pending_action, PendingAction):
            pending_action = self.pending_action.to_dict()
        else:
            pending_action = self.pending_action

        step: None | str | Unset
        if isinstance(self.step, Unset):
            step = UNSET
        else:
            step = self.step

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "links": links,
                "run_id": run_id,
                "waiting_since": waiting_since,
                "workflow_id": workflow_id,
            }
        )
        if deadline is not UNSET:
            field_dict["deadline"] = deadline
        if pending_action is not UNSET:
            field_dict["pending_action"] = pending_action
        if step is not UNSET:
            field_dict["step"] = step

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.approval_link import ApprovalLink  # noqa: PLC0415
        from ..models.pending_action import PendingAction  # noqa: PLC0415

        d = dict(src_dict)
        links = []
        _links = d.pop("links")
        for links_item_data in _links:
            links_item = ApprovalLink.from_dict(links_item_data)

            links.append(links_item)

        run_id = d.pop("run_id")

        waiting_since = d.pop("waiting_since")

        workflow_id = d.pop("workflow_id")

        def _parse_deadline(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deadline = _parse_deadline(d.pop("deadline", UNSET))

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

        def _parse_step(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        step = _parse_step(d.pop("step", UNSET))

        approval = cls(
            links=links,
            run_id=run_id,
            waiting_since=waiting_since,
            workflow_id=workflow_id,
            deadline=deadline,
            pending_action=pending_action,
            step=step,
        )

        approval.additional_properties = d
        return approval

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
