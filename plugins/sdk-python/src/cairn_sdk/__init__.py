"""Write Cairn step plugins in Python.

A step type is one subclass of :class:`Step` and one :func:`export` call::

    import cairn_sdk as cairn

    class Greet(cairn.Step):
        name = "greet"
        version = "0.1.0"
        description = "Greets someone by name"
        input_schema = {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        }

        def run(self, ctx, config, input):
            ctx.progress(50, "composing a greeting")
            return {"greeting": f"Hello, {input['name']}!"}

    Step = cairn.export(Greet)

``python -m cairn_sdk build app -o greet.wasm`` makes the component (the module
``app``, found in the current directory). Config, input, checkpoint and
decision arrive as JSON values (dicts, lists, strings, numbers); what ``run``
returns is the step's output. Return :func:`pause` to wait for a decision,
raise :class:`Error` to fail. Any other exception stops the plugin, and the
host shows its last traceback line as the step's error.

The module also works in plain Python, outside a component, so a step type
can be tested with ``pytest``: call ``Greet().run(cairn.Context.local(), {},
{"name": "Ada"})``. Log lines and progress then go to standard error.
"""

from __future__ import annotations

import enum
import json
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = [
    "Context",
    "Error",
    "Level",
    "Pause",
    "Step",
    "export",
    "pause",
]

__version__ = "0.1.0"

# Inside a component the WIT bindings are there (componentize-py generates
# them at build time); in plain Python they are not, and the host functions
# fall back to standard error.
try:
    from wit_world.imports import cairn_step_types as _types
    from wit_world.imports import host as _host
except ImportError:  # plain Python: tests, type checkers
    _types = None
    _host = None


class Level(enum.Enum):
    """Severity of a log line."""

    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


@dataclass(frozen=True)
class Context:
    """Which call of which step this is, and the host functions available to it."""

    run_id: str
    step: str
    #: 1 for the first attempt.
    attempt: int
    #: The same for every attempt of this step in this run: hand it to external
    #: systems so that a retried call does not act twice.
    idempotency_key: str

    @staticmethod
    def local(run_id: str = "local", step: str = "step", attempt: int = 1) -> "Context":
        """A context for calling a step type directly, in tests."""
        return Context(run_id, step, attempt, f"{run_id}/{step}")

    def log(self, level: Level, message: str) -> None:
        """Records a log line with this step attempt."""
        if _host is None:
            print(f"[{level.name.lower()}] {message}", file=sys.stderr)
        else:
            _host.log(_host.Level(level.value), str(message))

    def trace(self, message: str) -> None:
        self.log(Level.TRACE, message)

    def debug(self, message: str) -> None:
        self.log(Level.DEBUG, message)

    def info(self, message: str) -> None:
        self.log(Level.INFO, message)

    def warn(self, message: str) -> None:
        self.log(Level.WARN, message)

    def error(self, message: str) -> None:
        self.log(Level.ERROR, message)

    def progress(self, percent: int, action: str) -> None:
        """Reports progress within this step (0 to 100) and what it is doing now."""
        percent = max(0, min(100, int(percent)))
        if _host is None:
            print(f"[progress {percent}%] {action}", file=sys.stderr)
        else:
            _host.progress(percent, str(action))


class Error(Exception):
    """Why a step failed. Raise ``Error.fatal(...)`` or ``Error.retryable(...)``."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.message = str(message)
        self.retryable = retryable

    @classmethod
    def fatal(cls, message: str) -> "Error":
        """A failure that trying again will not fix."""
        return cls(message, retryable=False)

    @classmethod
    def retryable(cls, message: str) -> "Error":  # type: ignore[override]
        """A failure that may go away when tried again later (rate limit, timeout)."""
        return cls(message, retryable=True)


@dataclass
class Pause:
    """A step's request to wait for a decision; made by :func:`pause`."""

    kind: str
    message: str
    options: list[str] = field(default_factory=list)
    input_schema: Optional[Any] = None
    data: Any = None
    checkpoint: Any = None


def pause(
    kind: str,
    message: str,
    *,
    options: Optional[list[str]] = None,
    input_schema: Optional[Any] = None,
    data: Any = None,
    checkpoint: Any = None,
) -> Pause:
    """Waits for a decision: return this from ``run`` or ``resume``.

    ``options`` are the allowed decisions (e.g. ``["approve", "reject"]``);
    leave them out and give ``input_schema`` for free-form input. ``data`` is
    shown with the question. ``checkpoint`` comes back, as it was, to
    :meth:`Step.resume` with the decision.
    """
    return Pause(kind, message, list(options or []), input_schema, data, checkpoint)


class Step:
    """A step type. Set the class attributes and override :meth:`run`."""

    #: The step type's name as workflows refer to it: lowercase letters, digits, ``-``.
    name: str = ""
    #: The plugin's own semantic version.
    version: str = "0.1.0"
    #: One or two sentences for humans.
    description: str = ""
    #: JSON Schemas (as Python values) for the config, input and output, or None.
    config_schema: Optional[Any] = None
    input_schema: Optional[Any] = None
    output_schema: Optional[Any] = None
    #: Who sees what the step does, for a step that publishes or sends
    #: something to an audience; None for a step nobody sees directly.
    audience: Optional[str] = None

    def run(self, ctx: Context, config: Any, input: Any) -> Any:
        """Runs the step: return its output (any JSON value), or :func:`pause`."""
        raise NotImplementedError(f"{type(self).__name__} does not define run()")

    def resume(self, ctx: Context, config: Any, input: Any, checkpoint: Any, decision: Any) -> Any:
        """Continues after a pause with the decision that was made."""
        raise Error.fatal("this step type never pauses, so it cannot be resumed")


def export(step_type: type) -> type:
    """Makes the class that componentize-py exports as ``cairn:step/step``.

    Assign it to the module's ``Step``: ``Step = cairn.export(MyStep)``.
    """
    if not (isinstance(step_type, type) and issubclass(step_type, Step)):
        raise TypeError("cairn_sdk.export takes a subclass of cairn_sdk.Step")
    if not step_type.name:
        raise TypeError(f"{step_type.__name__} sets no name")
    step = step_type()

    class Export:
        def describe(self):
            return _types.StepInfo(
                name=step.name,
                version=step.version,
                description=step.description,
                config_schema=_schema(step.config_schema),
                input_schema=_schema(step.input_schema),
                output_schema=_schema(step.output_schema),
                audience=step.audience,
            )

        def run(self, call):
            ctx, config, value = _decode(call)
            return _outcome(lambda: step.run(ctx, config, value))

        def resume(self, call, checkpoint, decision):
            ctx, config, value = _decode(call)
            kept = json.loads(checkpoint)
            chosen = json.loads(decision)
            return _outcome(lambda: step.resume(ctx, config, value, kept, chosen))

    Export.__name__ = Export.__qualname__ = "Step"
    return Export


def _schema(schema: Any) -> Optional[str]:
    return None if schema is None else json.dumps(schema)


def _decode(call) -> tuple[Context, Any, Any]:
    ctx = Context(call.run_id, call.step, call.attempt, call.idempotency_key)
    return ctx, json.loads(call.config), json.loads(call.input)


def _outcome(body):
    try:
        result = body()
    except Error as error:
        return _types.Outcome_Fail(_types.StepError(error.message, error.retryable))
    if isinstance(result, Pause):
        action = _types.PendingAction(
            kind=result.kind,
            message=result.message,
            options=result.options,
            input_schema=_schema(result.input_schema),
            data=json.dumps(result.data),
        )
        return _types.Outcome_Pause(_types.Pause(action, json.dumps(result.checkpoint)))
    try:
        output = json.dumps(result)
    except (TypeError, ValueError) as error:
        return _types.Outcome_Fail(
            _types.StepError(f"the step's output is not JSON: {error}", False)
        )
    return _types.Outcome_Complete(output)
