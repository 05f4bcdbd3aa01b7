from enum import StrEnum


class ErrorReason(StrEnum):
    CANCELLED = "cancelled"
    HOST_ERROR = "host_error"
    LIMIT_EXCEEDED = "limit_exceeded"
    PLUGIN_UNAVAILABLE = "plugin_unavailable"
    REJECTED = "rejected"
    STEP_FAILED = "step_failed"
    TEMPLATE_ERROR = "template_error"
    TEMPLATE_LIMIT = "template_limit"
    TIMED_OUT = "timed_out"

    def __str__(self) -> str:
        return str(self.value)
