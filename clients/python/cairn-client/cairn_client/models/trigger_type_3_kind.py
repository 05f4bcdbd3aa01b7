from enum import StrEnum


class TriggerType3Kind(StrEnum):
    SCHEDULE = "schedule"

    def __str__(self) -> str:
        return str(self.value)
