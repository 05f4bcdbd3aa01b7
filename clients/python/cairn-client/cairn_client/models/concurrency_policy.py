from enum import StrEnum


class ConcurrencyPolicy(StrEnum):
    ALLOW = "allow"
    FORBID = "forbid"

    def __str__(self) -> str:
        return str(self.value)
