"""How a typed control message is declared, parsed and encoded (pure: no I/O).

Each control message is a frozen dataclass declared with ``@control(MessageType.X)``. Its
fields are annotated with a *checked type*, ``Annotated[python_type, Check(...)]`` (the
common ones are in ``common.messages.fields``), and a field with a default is optional.
Parsing a JSON body checks every field once, here, and yields the object that handlers
receive; a field that fails its check is refused with that check's error code. Unknown
JSON keys are ignored, so newer peers can add fields. Encoding omits fields that are None.

This follows Synapse's replication commands: the wire format and its validation live in one
place, and the rest of the code only ever sees typed objects.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, TypeVar

from common.errors import ErrorCode, ProtocolError, RequestError
from common.protocol import Message, encode

MAX_DEPTH = 8  # nesting of objects and lists in a control body

REGISTRY: dict[int, type["Control"]] = {}

C = TypeVar("C", bound="Record")


@dataclass(frozen=True)
class Check:
    """Validates (and may normalise) one field's JSON value; raises ValueError(reason)."""

    validate: Callable[[Any], Any]
    code: ErrorCode = ErrorCode.BAD_REQUEST


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    check: Check
    required: bool


class Record:
    """Base of every typed body: a control message, or a record nested in one."""

    __slots__ = ()
    _specs: ClassVar[tuple[_FieldSpec, ...]] = ()

    @classmethod
    def from_fields(cls: type[C], fields: dict[str, Any]) -> C:
        values = {}
        for spec in cls._specs:
            value = fields.get(spec.name)
            if value is None:
                if spec.required:
                    raise RequestError(spec.check.code, f"{spec.name} is required")
                continue
            try:
                values[spec.name] = spec.check.validate(value)
            except (ValueError, TypeError, OverflowError) as exc:
                raise RequestError(spec.check.code, str(exc) or f"bad {spec.name}") from None
        return cls(**values)

    def fields(self) -> dict[str, Any]:
        return {name: _plain(value) for name, value in _items(self) if value is not None}


class Control(Record):
    """Base of every control message; see the module docstring."""

    __slots__ = ()
    TYPE: ClassVar[int]

    def encode(self) -> bytes:
        return encode(self.TYPE, json.dumps(self.fields(), separators=(",", ":")).encode())


def control(msg_type: int) -> Callable[[type[C]], type[C]]:
    """Declare a control message: a frozen dataclass registered under ``msg_type``."""

    def declare(cls: type[C]) -> type[C]:
        cls = dataclass(frozen=True, slots=True)(cls)
        cls.TYPE = msg_type
        cls._specs = tuple(_specs_of(cls))
        if msg_type in REGISTRY:
            raise TypeError(f"message type {msg_type} declared twice")
        REGISTRY[msg_type] = cls
        return cls

    return declare


def record(cls: type[C]) -> type[C]:
    """Declare a ``Record`` nested inside messages (a row of a table, say): parsed the
    same way, never sent on its own."""
    cls = dataclass(frozen=True, slots=True)(cls)
    cls._specs = tuple(_specs_of(cls))
    return cls


def parse(message: Message) -> Control | None:
    """The typed object for a message, or None if its type is not a known control message."""
    cls = REGISTRY.get(message.type)
    if cls is None:
        return None
    custom = getattr(cls, "from_body", None)
    if custom is not None:
        return custom(message.body)
    return cls.from_fields(json_object(message.body))


def json_object(body: bytes) -> dict[str, Any]:
    """A control body as a JSON object; anything else is a protocol violation."""
    if not body:
        return {}
    try:
        value = json.loads(body)
    except RecursionError:
        raise ProtocolError(ErrorCode.BAD_JSON, "message body is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, f"message body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, "message body must be a JSON object")
    if _depth(value) > MAX_DEPTH:
        raise ProtocolError(ErrorCode.BAD_JSON, f"message body is nested more than {MAX_DEPTH} deep")
    return value


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level - 1


def _specs_of(cls: type) -> Iterator[_FieldSpec]:
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in dataclasses.fields(cls):
        annotation = hints[field.name]
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        yield _FieldSpec(field.name, _check_of(annotation, cls.__name__, field.name), required)


def _check_of(annotation: Any, owner: str, name: str) -> Check:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(inner) == 1:
            return _check_of(inner[0], owner, name)
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, Check):
            return meta
    raise TypeError(f"{owner}.{name} needs a checked type (Annotated[..., Check(...)])")


def _items(obj: Any) -> Iterator[tuple[str, Any]]:
    for field in dataclasses.fields(obj):
        yield field.name, getattr(obj, field.name)


def _plain(value: Any) -> Any:
    """A field value as plain JSON data."""
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value):
        return {name: _plain(v) for name, v in _items(value) if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
