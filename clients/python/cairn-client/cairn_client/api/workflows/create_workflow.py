from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_workflow import CreateWorkflow
from ...models.problem_details import ProblemDetails
from ...models.workflow_body import WorkflowBody
from ...types import Response


def _get_kwargs(
    *,
    body: CreateWorkflow,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/workflows",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ProblemDetails | WorkflowBody | None:
    if response.status_code == 201:
        response_201 = WorkflowBody.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = ProblemDetails.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ProblemDetails.from_dict(response.json())

        return response_401

    if response.status_code == 413:
        response_413 = ProblemDetails.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ProblemDetails.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = ProblemDetails.from_dict(response.json())

        return response_422

    if response.status_code == 502:
        response_502 = ProblemDetails.from_dict(response.json())

        return response_502

    if response.status_code == 504:
        response_504 = ProblemDetails.from_dict(response.json())

        return response_504

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ProblemDetails | WorkflowBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: CreateWorkflow,
) -> Response[ProblemDetails | WorkflowBody]:
    """Create a workflow: from a definition, validated against the step types'
    schemas; or from a goal, planned by the server's model, saved as a draft
    and sent to its reviewers.

    Args:
        body (CreateWorkflow): A workflow from a definition, or from a goal that a planner turns
            into
            one. Send `definition` (with `status`), or `goal` (with `schedule`,
            `timezone` and `notify`), not both.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ProblemDetails | WorkflowBody]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: CreateWorkflow,
) -> ProblemDetails | WorkflowBody | None:
    """Create a workflow: from a definition, validated against the step types'
    schemas; or from a goal, planned by the server's model, saved as a draft
    and sent to its reviewers.

    Args:
        body (CreateWorkflow): A workflow from a definition, or from a goal that a planner turns
            into
            one. Send `definition` (with `status`), or `goal` (with `schedule`,
            `timezone` and `notify`), not both.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ProblemDetails | WorkflowBody
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: CreateWorkflow,
) -> Response[ProblemDetails | WorkflowBody]:
    """Create a workflow: from a definition, validated against the step types'
    schemas; or from a goal, planned by the server's model, saved as a draft
    and sent to its reviewers.

    Args:
        body (CreateWorkflow): A workflow from a definition, or from a goal that a planner turns
            into
            one. Send `definition` (with `status`), or `goal` (with `schedule`,
            `timezone` and `notify`), not both.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ProblemDetails | WorkflowBody]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: CreateWorkflow,
) -> ProblemDetails | WorkflowBody | None:
    """Create a workflow: from a definition, validated against the step types'
    schemas; or from a goal, planned by the server's model, saved as a draft
    and sent to its reviewers.

    Args:
        body (CreateWorkflow): A workflow from a definition, or from a goal that a planner turns
            into
            one. Send `definition` (with `status`), or `goal` (with `schedule`,
            `timezone` and `notify`), not both.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ProblemDetails | WorkflowBody
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
