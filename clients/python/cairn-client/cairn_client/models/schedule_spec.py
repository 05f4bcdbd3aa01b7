from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.catch_up import CatchUp
from ..models.overlap import Overlap
from ..types import UNSET, Unset

T = TypeVar("T", bound="ScheduleSpec")


@_attrs_define
class ScheduleSpec:
    """A workflow's `schedule`, as its author writes it.

    Attributes:
        cron (str): `min hour day month weekday`, or with seconds first: `*/10 * * * * *`.
        catch_up (CatchUp | Unset): What happens to the slots missed while the host was down (or late).
        input_ (Any | Unset): The input of every scheduled run.
        overlap (Overlap | Unset): What a slot does while a run of the workflow is still active.
        paused (bool | Unset): A paused schedule starts nothing; resuming it starts from the next slot.
        timezone (str | Unset): IANA zone the expression is read in, e.g. `Europe/Paris`.
    """

    cron: str
    catch_up: CatchUp | Unset = UNSET
    input_: Any | Unset = UNSET
    overlap: Overlap | Unset = UNSET
    paused: bool | Unset = UNSET
    timezone: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        cron = self.cron

        catch_up: str | Unset = UNSET
        if not isinstance(self.catch_up, Unset):
            catch_up = self.catch_up.value

        input_ = self.input_

        overlap: str | Unset = UNSET
        if not isinstance(self.overlap, Unset):
            overlap = self.overlap.value

        paused = self.paused

        timezone = self.timezone

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cron": cron,
            }
        )
        if catch_up is not UNSET:
            field_dict["catch_up"] = catch_up
        if input_ is not UNSET:
            field_dict["input"] = input_
        if overlap is not UNSET:
            field_dict["overlap"] = overlap
        if paused is not UNSET:
            field_dict["paused"] = paused
        if timezone is not UNSET:
            field_dict["timezone"] = timezone

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cron = d.pop("cron")

        _catch_up = d.pop("catch_up", UNSET)
        catch_up: CatchUp | Unset
        if isinstance(_catch_up, Unset):
            catch_up = UNSET
        else:
            catch_up = CatchUp(_catch_up)

        input_ = d.pop("input", UNSET)

        _overlap = d.pop("overlap", UNSET)
        overlap: Overlap | Unset
        if isinstance(_overlap, Unset):
            overlap = UNSET
        else:
            overlap = Overlap(_overlap)

        paused = d.pop("paused", UNSET)

        timezone = d.pop("timezone", UNSET)

        schedule_spec = cls(
            cron=cron,
            catch_up=catch_up,
            input_=input_,
            overlap=overlap,
            paused=paused,
            timezone=timezone,
        )

        return schedule_spec
