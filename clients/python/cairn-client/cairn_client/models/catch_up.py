from enum import StrEnum


class CatchUp(StrEnum):
    NONE = "none"
    ONCE = "once"

    def __str__(self) -> str:
        return str(self.value)
