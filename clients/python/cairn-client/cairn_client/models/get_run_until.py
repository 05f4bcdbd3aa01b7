from enum import StrEnum


class GetRunUntil(StrEnum):
    CHANGED = "changed"
    SETTLED = "settled"

    def __str__(self) -> str:
        return str(self.value)
