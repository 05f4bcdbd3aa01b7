from enum import StrEnum


class Scope(StrEnum):
    SHARED = "shared"
    TENANT = "tenant"

    def __str__(self) -> str:
        return str(self.value)
