from enum import StrEnum


class TriggerType1Kind(StrEnum):
    BATCH = "batch"

    def __str__(self) -> str:
        return str(self.value)
