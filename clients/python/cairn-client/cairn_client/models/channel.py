from enum import StrEnum


class Channel(StrEnum):
    API = "api"
    LINK = "link"
    TIMER = "timer"

    def __str__(self) -> str:
        return str(self.value)
