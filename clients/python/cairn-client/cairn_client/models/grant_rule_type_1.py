from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="GrantRuleType1")


@_attrs_define
class GrantRuleType1:
    """
    Attributes:
        host (str): `[scheme://]host[:port]`: a name (`api.example.com`), `*.example.com` (its subdomains), an IP
            address, a CIDR network, or `*`; without a port only the scheme's default port matches, `:*` any port.
        methods (list[str] | Unset): Allowed methods (any case); unset: any.
        path_prefixes (list[str] | Unset): Allowed path prefixes, each starting with `/`; unset: any path.
    """

    host: str
    methods: list[str] | Unset = UNSET
    path_prefixes: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        host = self.host

        methods: list[str] | Unset = UNSET
        if not isinstance(self.methods, Unset):
            methods = self.methods

        path_prefixes: list[str] | Unset = UNSET
        if not isinstance(self.path_prefixes, Unset):
            path_prefixes = self.path_prefixes

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "host": host,
            }
        )
        if methods is not UNSET:
            field_dict["methods"] = methods
        if path_prefixes is not UNSET:
            field_dict["path_prefixes"] = path_prefixes

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        host = d.pop("host")

        methods = cast(list[str], d.pop("methods", UNSET))

        path_prefixes = cast(list[str], d.pop("path_prefixes", UNSET))

        grant_rule_type_1 = cls(
            host=host,
            methods=methods,
            path_prefixes=path_prefixes,
        )

        grant_rule_type_1.additional_properties = d
        return grant_rule_type_1

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
