from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.scope import Scope
from ..types import UNSET, Unset

T = TypeVar("T", bound="PluginBody")


@_attrs_define
class PluginBody:
    """
    Attributes:
        description (str):
        digest (str): SHA-256 of the component, hex.
        name (str):
        size_bytes (int):
        version (str):
        wit (str): The WIT package it was built against, e.g. `cairn:step@0.2.0`.
        scope (Scope): Who can use a plugin.
        audience (None | str | Unset): Who sees what the step does, when it publishes or sends something to
            an audience; planned workflows review such a step's input first.
        config_schema (Any | Unset): JSON Schema of the step's `config`.
        input_schema (Any | Unset): JSON Schema of the step's input.
        output_schema (Any | Unset): JSON Schema of the step's output.
    """

    description: str
    digest: str
    name: str
    size_bytes: int
    version: str
    wit: str
    scope: Scope
    audience: None | str | Unset = UNSET
    config_schema: Any | Unset = UNSET
    input_schema: Any | Unset = UNSET
    output_schema: Any | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        description = self.description

        digest = self.digest

        name = self.name

        size_bytes = self.size_bytes

        version = self.version

        wit = self.wit

        scope = self.scope.value

        audience: None | str | Unset
        if isinstance(self.audience, Unset):
            audience = UNSET
        else:
            audience = self.audience

        config_schema = self.config_schema

        input_schema = self.input_schema

        output_schema = self.output_schema

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "description": description,
                "digest": digest,
                "name": name,
                "size_bytes": size_bytes,
                "version": version,
                "wit": wit,
                "scope": scope,
            }
        )
        if audience is not UNSET:
            field_dict["audience"] = audience
        if config_schema is not UNSET:
            field_dict["config_schema"] = config_schema
        if input_schema is not UNSET:
            field_dict["input_schema"] = input_schema
        if output_schema is not UNSET:
            field_dict["output_schema"] = output_schema

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        description = d.pop("description")

        digest = d.pop("digest")

        name = d.pop("name")

        size_bytes = d.pop("size_bytes")

        version = d.pop("version")

        wit = d.pop("wit")

        scope = Scope(d.pop("scope"))

        def _parse_audience(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        audience = _parse_audience(d.pop("audience", UNSET))

        config_schema = d.pop("config_schema", UNSET)

        input_schema = d.pop("input_schema", UNSET)

        output_schema = d.pop("output_schema", UNSET)

        plugin_body = cls(
            description=description,
            digest=digest,
            name=name,
            size_bytes=size_bytes,
            version=version,
            wit=wit,
            scope=scope,
            audience=audience,
            config_schema=config_schema,
            input_schema=input_schema,
            output_schema=output_schema,
        )

        plugin_body.additional_properties = d
        return plugin_body

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
