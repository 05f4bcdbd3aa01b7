from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem_details import ProblemDetails
from ...models.resume import Resume
from ...models.resume_run_until import ResumeRunUntil
from ...models.run_view import RunView
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: str,
    *,
    body: Resume,
    wait: str | Unset = UNSET,
    until: ResumeRunUntil | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["wait"] = wait

    json_until: str | Unset = UNSET
    if not isinstance(until, Unset):
        json_until = until.value

    params["until"] = json_until

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/runs/{id}/resume".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ProblemDetails | RunView | None:
    if response.status_code == 200:
        response_200 = RunView.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ProblemDetails.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ProblemDetails.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = ProblemDetails.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = ProblemDetails.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = ProblemDetails.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ProblemDetails.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = ProblemDetails.from_dict(response.json())

        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ProblemDetails | RunView]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    body: Resume,
    wait: str | Unset = UNSET,
    until: ResumeRunUntil | Unset = UNSET,
) -> Response[ProblemDetails | RunView]:
    """Resume a paused run with a decision.

    Args:
        id (str):
        wait (str | Unset):
        until (ResumeRunUntil | Unset): What a long-poll of a run waits for.
        body (Resume):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ProblemDetails | RunView]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
        wait=wait,
        until=until,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: str,
    *,
    client: AuthenticatedClient,
    body: Resume,
    wait: str | Unset = UNSET,
    until: ResumeRunUntil | Unset = UNSET,
) -> ProblemDetails | RunView | None:
    """Resume a paused run with a decision.

    Args:
        id (str):
        wait (str | Unset):
        until (ResumeRunUntil | Unset): What a long-poll of a run waits for.
        body (Resume):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ProblemDetails | RunView
    """

    return sync_detailed(
        id=id,
        client=client,
        body=body,
        wait=wait,
        until=until,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    body: Resume,
    wait: str | Unset = UNSET,
    until: ResumeRunUntil | Unset = UNSET,
) -> Response[ProblemDetails | RunView]:
    """Resume a paused run with a decision.

    Args:
        id (str):
        wait (str | Unset):
        until (ResumeRunUntil | Unset): What a long-poll of a run waits for.
        body (Resume):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ProblemDetails | RunView]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
        wait=wait,
        until=until,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient,
    body: Resume,
    wait: str | Unset = UNSET,
    until: ResumeRunUntil | Unset = UNSET,
) -> ProblemDetails | RunView | None:
    """Resume a paused run with a decision.

    Args:
        id (str):
        wait (str | Unset):
        until (ResumeRunUntil | Unset): What a long-poll of a run waits for.
        body (Resume):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ProblemDetails | RunView
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            body=body,
            wait=wait,
            until=until,
        )
    ).parsed
