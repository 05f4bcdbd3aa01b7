from enum import StrEnum


class EventKind(StrEnum):
    APPROVAL_RECORDED = "approval_recorded"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    CREATED = "created"
    FAILED = "failed"
    PAUSED = "paused"
    RESUMED = "resumed"
    RETRY_SCHEDULED = "retry_scheduled"
    STEP_COMPLETED = "step_completed"
    STEP_FAILED = "step_failed"
    STEP_SKIPPED = "step_skipped"
    STEP_STARTED = "step_started"
    TIMED_OUT = "timed_out"

    def __str__(self) -> str:
        return str(self.value)
