from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.plan_link_decision import PlanLinkDecision
from ...models.problem_details import ProblemDetails
from ...types import UNSET, Response


def _get_kwargs(
    token: str,
    *,
    body: PlanLinkDecision | PlanLinkDecision | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/plans/{token}".format(
            token=quote(str(token), safe=""),
        ),
    }

    if isinstance(body, PlanLinkDecision):
        _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json"
    if isinstance(body, PlanLinkDecision):
        _kwargs["data"] = body.to_dict()
        headers["Content-Type"] = "application/x-www-form-urlencoded"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ProblemDetails | str | None:
    if response.status_code == 200:
        response_200 = response.text
        return response_200

    if response.status_code == 400:
        response_400 = ProblemDetails.from_dict(response.json())

        return response_400

    if response.status_code == 404:
        response_404 = ProblemDetails.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = ProblemDetails.from_dict(response.json())

        return response_409

    if response.status_code == 410:
        response_410 = ProblemDetails.from_dict(response.json())

        return response_410

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
) -> Response[ProblemDetails | str]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    token: str,
    *,
    client: AuthenticatedClient | Client,
    body: PlanLinkDecision | PlanLinkDecision | Unset = UNSET,
) -> Response[ProblemDetails | str]:
    """Take the link's decision: approve (the workflow becomes active and its
    schedule starts) or reject (it stays a draft, with the note).

    Args:
        token (str):
        body (PlanLinkDecision): What a plan link's `POST` may carry: the decision (which must be
            the
            link's own, if sent) and a note.
        body (PlanLinkDecision): What a plan link's `POST` may carry: the decision (which must be
            the
            link's own, if sent) and a note.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ProblemDetails | str]
    """

    kwargs = _get_kwargs(
        token=token,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    token: str,
    *,
    client: AuthenticatedClient | Client,
    body: PlanLinkDecision | PlanLinkDecision | Unset = UNSET,
) -> ProblemDetails | str | None:
    """Take the link's decision: approve (the workflow becomes active and its
    schedule starts) or reject (it stays a draft, with the note).

    Args:
        token (str):
        body (PlanLinkDecision): What a plan link's `POST` may carry: the decision (which must be
            the
            link's own, if sent) and a note.
        body (PlanLinkDecision): What a plan link's `POST` may carry: the decision (which must be
            the
            link's own, if sent) and a note.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ProblemDetails | str
    """

    return sync_detailed(
        token=token,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    token: str,
    *,
    client: AuthenticatedClient | Client,
    body: PlanLinkDecision | PlanLinkDecision | Unset = UNSET,
) -> Response[ProblemDetails | str]:
    """Take the link's decision: approve (the workflow becomes active and its
    schedule starts) or reject (it stays a draft, with the note).

    Args:
        token (str):
        body (PlanLinkDecision): What a plan link's `POST` may carry: the decision (which must be
            the
            link's own, if sent) and a note.
        body (PlanLinkDecision): What a plan link's `POST` may carry: the decision (which must be
            the
            link's own, if sent) and a note.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ProblemDetails | str]
    """

    kwargs = _get_kwargs(
        token=token,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    token: str,
    *,
    client: AuthenticatedClient | Client,
    body: PlanLinkDecision | PlanLinkDecision | Unset = UNSET,
) -> ProblemDetails | str | None:
    """Take the link's decision: approve (the workflow becomes active and its
    schedule starts) or reject (it stays a draft, with the note).

    Args:
        token (str):
        body (PlanLinkDecision): What a plan link's `POST` may carry: the decision (which must be
            the
            link's own, if sent) and a note.
        body (PlanLinkDecision): What a plan link's `POST` may carry: the decision (which must be
            the
            link's own, if sent) and a note.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ProblemDetails | str
    """

    return (
        await asyncio_detailed(
            token=token,
            client=client,
            body=body,
        )
    ).parsed
