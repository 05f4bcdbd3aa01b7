from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.grant_rule_type_1 import GrantRuleType1


T = TypeVar("T", bound="HttpGrant")


@_attrs_define
class HttpGrant:
    """A step's outbound HTTP grant, from its workflow definition.

    Attributes:
        allow (list[GrantRuleType1 | str] | Unset): Where the step may send requests.
        secrets (list[str] | Unset): Tenant secrets the step may refer to with `${secret:NAME}`.
    """

    allow: list[GrantRuleType1 | str] | Unset = UNSET
    secrets: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.grant_rule_type_1 import GrantRuleType1  # noqa: PLC0415

        allow: list[dict[str, Any] | str] | Unset = UNSET
        if not isinstance(self.allow, Unset):
            allow = []
            for allow_item_data in self.allow:
                allow_item: dict[str, Any] | str
                if isinstance(allow_item_data, GrantRuleType1):
                    allow_item = allow_item_data.to_dict()
                else:
                    allow_item = allow_item_data
                allow.append(allow_item)

        secrets: list[str] | Unset = UNSET
        if not isinstance(self.secrets, Unset):
            secrets = self.secrets

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if allow is not UNSET:
            field_dict["allow"] = allow
        if secrets is not UNSET:
            field_dict["secrets"] = secrets

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.grant_rule_type_1 import GrantRuleType1  # noqa: PLC0415

        d = dict(src_dict)
        _allow = d.pop("allow", UNSET)
        allow: list[GrantRuleType1 | str] | Unset = UNSET
        if _allow is not UNSET:
            allow = []
            for allow_item_data in _allow:

                def _parse_allow_item(data: object) -> GrantRuleType1 | str:
                    try:
                        if not isinstance(data, dict):
                            raise TypeError()
                        componentsschemas_grant_rule_type_1 = GrantRuleType1.from_dict(data)

                        return componentsschemas_grant_rule_type_1
                    except (TypeError, ValueError, AttributeError, KeyError):
                        pass
                    return cast(GrantRuleType1 | str, data)

                allow_item = _parse_allow_item(allow_item_data)

                allow.append(allow_item)

        secrets = cast(list[str], d.pop("secrets", UNSET))

        http_grant = cls(
            allow=allow,
            secrets=secrets,
        )

        return http_grant
