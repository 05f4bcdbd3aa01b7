from enum import StrEnum


class TimeoutAction(StrEnum):
    APPROVE = "approve"
    FAIL = "fail"
    REJECT = "reject"

    def __str__(self) -> str:
        return str(self.value)
