from enum import StrEnum


class PlanChannel(StrEnum):
    API = "api"
    LINK = "link"

    def __str__(self) -> str:
        return str(self.value)
