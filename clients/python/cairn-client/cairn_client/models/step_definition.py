from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.approval_gate import ApprovalGate
    from ..models.http_grant import HttpGrant
    from ..models.map_over import MapOver
    from ..models.parallel import Parallel
    from ..models.retry_policy import RetryPolicy
    from ..models.sub_workflow import SubWorkflow
    from ..models.switch import Switch
    from ..models.wait import Wait


T = TypeVar("T", bound="StepDefinition")


@_attrs_define
class StepDefinition:
    """One step of a workflow.

    Attributes:
        name (str): Unique within the workflow; templates refer to it as `steps.<name>`.
        approval (ApprovalGate | None | Unset):
        config (Any | Unset):
        http (HttpGrant | None | Unset):
        input_ (Any | Unset): The step's input: a JSON value whose strings are minijinja templates over
            `input` (the run's input), `steps.<name>.output` and `run.id`. A string that
            is one `{{ expression }}` keeps the expression's JSON type. Unset: the
            previous step's output, or the run input for the first step.
        map_ (MapOver | None | Unset):
        parallel (None | Parallel | Unset):
        retry (None | RetryPolicy | Unset):
        switch (None | Switch | Unset):
        timeout (None | str | Unset): Wall-time limit of one attempt, e.g. `"10s"`; never above the operator's cap.
        type_ (str | Unset): A plugin name, optionally with a version requirement: `transform`,
            `transform@0.1`, `transform@=0.1.2`. Empty for a construct of the
            language (`parallel`, `map`, `switch`, `wait`, `workflow`), whose
            semantics are the host's.
        wait (None | Unset | Wait):
        when (None | str | Unset): A minijinja expression; when false the step is skipped.
        workflow (None | SubWorkflow | Unset):
    """

    name: str
    approval: ApprovalGate | None | Unset = UNSET
    config: Any | Unset = UNSET
    http: HttpGrant | None | Unset = UNSET
    input_: Any | Unset = UNSET
    map_: MapOver | None | Unset = UNSET
    parallel: None | Parallel | Unset = UNSET
    retry: None | RetryPolicy | Unset = UNSET
    switch: None | Switch | Unset = UNSET
    timeout: None | str | Unset = UNSET
    type_: str | Unset = UNSET
    wait: None | Unset | Wait = UNSET
    when: None | str | Unset = UNSET
    workflow: None | SubWorkflow | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.approval_gate import ApprovalGate  # noqa: PLC0415
        from ..models.http_grant import HttpGrant  # noqa: PLC0415
        from ..models.map_over import MapOver  # noqa: PLC0415
        from ..models.parallel import Parallel  # noqa: PLC0415
        from ..models.retry_policy import RetryPolicy  # noqa: PLC0415
        from ..models.sub_workflow import SubWorkflow  # noqa: PLC0415
        from ..models.switch import Switch  # noqa: PLC0415
        from ..models.wait import Wait  # noqa: PLC0415

        name = self.name

        approval: dict[str, Any] | None | Unset
        if isinstance(self.approval, Unset):
            approval = UNSET
        elif isinstance(self.approval, ApprovalGate):
            approval = self.approval.to_dict()
        else:
            approval = self.approval

        config = self.config

        http: dict[str, Any] | None | Unset
        if isinstance(self.http, Unset):
            http = UNSET
        elif isinstance(self.http, HttpGrant):
            http = self.http.to_dict()
        else:
            http = self.http

        input_ = self.input_

        map_: dict[str, Any] | None | Unset
        if isinstance(self.map_, Unset):
            map_ = UNSET
        elif isinstance(self.map_, MapOver):
            map_ = self.map_.to_dict()
        else:
            map_ = self.map_

        parallel: dict[str, Any] | None | Unset
        if isinstance(self.parallel, Unset):
            parallel = UNSET
        elif isinstance(self.parallel, Parallel):
            parallel = self.parallel.to_dict()
        else:
            parallel = self.parallel

        retry: dict[str, Any] | None | Unset
        if isinstance(self.retry, Unset):
            retry = UNSET
        elif isinstance(self.retry, RetryPolicy):
            retry = self.retry.to_dict()
        else:
            retry = self.retry

        switch: dict[str, Any] | None | Unset
        if isinstance(self.switch, Unset):
            switch = UNSET
        elif isinstance(self.switch, Switch):
            switch = self.switch.to_dict()
        else:
            switch = self.switch

        timeout: None | str | Unset
        if isinstance(self.timeout, Unset):
            timeout = UNSET
        else:
            timeout = self.timeout

        type_ = self.type_

        wait: dict[str, Any] | None | Unset
        if isinstance(self.wait, Unset):
            wait = UNSET
        elif isinstance(self.wait, Wait):
            wait = self.wait.to_dict()
        else:
            wait = self.wait

        when: None | str | Unset
        if isinstance(self.when, Unset):
            when = UNSET
        else:
            when = self.when

        workflow: dict[str, Any] | None | Unset
        if isinstance(self.workflow, Unset):
            workflow = UNSET
        elif isinstance(self.workflow, SubWorkflow):
            workflow = self.workflow.to_dict()
        else:
            workflow = self.workflow

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
        if approval is not UNSET:
            field_dict["approval"] = approval
        if config is not UNSET:
            field_dict["config"] = config
        if http is not UNSET:
            field_dict["http"] = http
        if input_ is not UNSET:
            field_dict["input"] = input_
        if map_ is not UNSET:
            field_dict["map"] = map_
        if parallel is not UNSET:
            field_dict["parallel"] = parallel
        if retry is not UNSET:
            field_dict["retry"] = retry
        if switch is not UNSET:
            field_dict["switch"] = switch
        if timeout is not UNSET:
            field_dict["timeout"] = timeout
        if type_ is not UNSET:
            field_dict["type"] = type_
        if wait is not UNSET:
            field_dict["wait"] = wait
        if when is not UNSET:
            field_dict["when"] = when
        if workflow is not UNSET:
            field_dict["workflow"] = workflow

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.approval_gate import ApprovalGate  # noqa: PLC0415
        from ..models.http_grant import HttpGrant  # noqa: PLC0415
        from ..models.map_over import MapOver  # noqa: PLC0415
        from ..models.parallel import Parallel  # noqa: PLC0415
        from ..models.retry_policy import RetryPolicy  # noqa: PLC0415
        from ..models.sub_workflow import SubWorkflow  # noqa: PLC0415
        from ..models.switch import Switch  # noqa: PLC0415
        from ..models.wait import Wait  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        def _parse_approval(data: object) -> ApprovalGate | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                approval_type_0 = ApprovalGate.from_dict(data)

                return approval_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ApprovalGate | None | Unset, data)

        approval = _parse_approval(d.pop("approval", UNSET))

        config = d.pop("config", UNSET)

        def _parse_http(data: object) -> HttpGrant | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                http_type_0 = HttpGrant.from_dict(data)

                return http_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(HttpGrant | None | Unset, data)

        http = _parse_http(d.pop("http", UNSET))

        input_ = d.pop("input", UNSET)

        def _parse_map_(data: object) -> MapOver | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                map_type_0 = MapOver.from_dict(data)

                return map_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(MapOver | None | Unset, data)

        map_ = _parse_map_(d.pop("map", UNSET))

        def _parse_parallel(data: object) -> None | Parallel | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                parallel_type_0 = Parallel.from_dict(data)

                return parallel_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Parallel | Unset, data)

        parallel = _parse_parallel(d.pop("parallel", UNSET))

        def _parse_retry(data: object) -> None | RetryPolicy | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                retry_type_0 = RetryPolicy.from_dict(data)

                return retry_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RetryPolicy | Unset, data)

        retry = _parse_retry(d.pop("retry", UNSET))

        def _parse_switch(data: object) -> None | Switch | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                switch_type_0 = Switch.from_dict(data)

                return switch_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Switch | Unset, data)

        switch = _parse_switch(d.pop("switch", UNSET))

        def _parse_timeout(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        timeout = _parse_timeout(d.pop("timeout", UNSET))

        type_ = d.pop("type", UNSET)

        def _parse_wait(data: object) -> None | Unset | Wait:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                wait_type_0 = Wait.from_dict(data)

                return wait_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | Wait, data)

        wait = _parse_wait(d.pop("wait", UNSET))

        def _parse_when(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        when = _parse_when(d.pop("when", UNSET))

        def _parse_workflow(data: object) -> None | SubWorkflow | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                workflow_type_0 = SubWorkflow.from_dict(data)

                return workflow_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SubWorkflow | Unset, data)

        workflow = _parse_workflow(d.pop("workflow", UNSET))

        step_definition = cls(
            name=name,
            approval=approval,
            config=config,
            http=http,
            input_=input_,
            map_=map_,
            parallel=parallel,
            retry=retry,
            switch=switch,
            timeout=timeout,
            type_=type_,
            wait=wait,
            when=when,
            workflow=workflow,
        )

        return step_definition
