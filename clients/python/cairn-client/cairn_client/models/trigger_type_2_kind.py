from enum import StrEnum


class TriggerType2Kind(StrEnum):
    PARENT = "parent"

    def __str__(self) -> str:
        return str(self.value)
