from enum import StrEnum


class ResumeRunUntil(StrEnum):
    CHANGED = "changed"
    SETTLED = "settled"

    def __str__(self) -> str:
        return str(self.value)
