from enum import StrEnum


class FireOutcome(StrEnum):
    MISSED = "missed"
    QUEUED = "queued"
    SKIPPED = "skipped"
    STARTED = "started"

    def __str__(self) -> str:
        return str(self.value)
