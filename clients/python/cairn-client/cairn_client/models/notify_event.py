from enum import StrEnum


class NotifyEvent(StrEnum):
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"
    PAUSED = "paused"
    TIMED_OUT = "timed_out"

    def __str__(self) -> str:
        return str(self.value)
