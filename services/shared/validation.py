"""Turn pydantic validation errors into the shared 422/400 error shape, one message per field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.shared.errors import ApiError, InvalidParameter, ValidationFailed

M = TypeVar("M", bound=BaseModel)


def field_errors(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        fields.setdefault(loc, msg)
    return fields


def parse_model(model: type[M], data: Any, refusal: type[ApiError] = ValidationFailed, what: str = "input") -> M:
    """`data` as `model`, or `refusal` (422 by default) naming every field's problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = field_errors(exc)
        summary = "; ".join(f"{k}: {v}" for k, v in fields.items())
        raise refusal(f"Invalid {what} ({summary}).", fields=fields) from None


def bounded_int(value: str | None, name: str, *, default: int, low: int, high: int) -> int:
    """Parse a numeric query parameter and refuse anything outside [low, high]."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidParameter(f"{name} must be an integer.", fields={name: "must be an integer"}) from None
    if not low <= number <= high:
        problem = f"must be between {low} and {high}"
        raise InvalidParameter(f"{name} {problem}.", fields={name: problem})
    return number
