from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.plugin_body import PluginBody
from ...models.problem_details import ProblemDetails
from ...types import UNSET, File, Response


def _get_kwargs(
    *,
    body: File | File | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/plugins",
    }

    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "application/octet-stream"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "application/wasm"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> PluginBody | ProblemDetails | None:
    if response.status_code == 200:
        response_200 = PluginBody.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = PluginBody.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = ProblemDetails.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ProblemDetails.from_dict(response.json())

        return response_401

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
) -> Response[PluginBody | ProblemDetails]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: File | File | Unset = UNSET,
) -> Response[PluginBody | ProblemDetails]:
    """Upload a private step type: a `cairn:step` component, checked and compiled.

    Args:
        body (File): A WebAssembly component's bytes, as an upload's body (described only:
            the handler reads the raw body).
        body (File): A WebAssembly component's bytes, as an upload's body (described only:
            the handler reads the raw body).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PluginBody | ProblemDetails]
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
    body: File | File | Unset = UNSET,
) -> PluginBody | ProblemDetails | None:
    """Upload a private step type: a `cairn:step` component, checked and compiled.

    Args:
        body (File): A WebAssembly component's bytes, as an upload's body (described only:
            the handler reads the raw body).
        body (File): A WebAssembly component's bytes, as an upload's body (described only:
            the handler reads the raw body).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PluginBody | ProblemDetails
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: File | File | Unset = UNSET,
) -> Response[PluginBody | ProblemDetails]:
    """Upload a private step type: a `cairn:step` component, checked and compiled.

    Args:
        body (File): A WebAssembly component's bytes, as an upload's body (described only:
            the handler reads the raw body).
        body (File): A WebAssembly component's bytes, as an upload's body (described only:
            the handler reads the raw body).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[PluginBody | ProblemDetails]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: File | File | Unset = UNSET,
) -> PluginBody | ProblemDetails | None:
    """Upload a private step type: a `cairn:step` component, checked and compiled.

    Args:
        body (File): A WebAssembly component's bytes, as an upload's body (described only:
            the handler reads the raw body).
        body (File): A WebAssembly component's bytes, as an upload's body (described only:
            the handler reads the raw body).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        PluginBody | ProblemDetails
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
