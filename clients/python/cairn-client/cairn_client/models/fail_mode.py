from enum import StrEnum


class FailMode(StrEnum):
    ALL = "all"
    FAST = "fast"

    def __str__(self) -> str:
        return str(self.value)
