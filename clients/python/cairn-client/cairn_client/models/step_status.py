from enum import StrEnum


class StepStatus(StrEnum):
    AWAITING_INPUT = "awaiting_input"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"
    PENDING = "pending"
    RUNNING = "running"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return str(self.value)
