"""Text a request may carry: anything but NUL (U+0000), which PostgreSQL's `text` cannot
store. Unchecked, a NUL reaches the INSERT (or a query's parameter) and fails there (a
500); checked, it is a 422 naming the field, as any other bad value is. A request model
derives from `TextInput`; a query parameter that is stored or searched by takes
`WITHOUT_NUL`."""

from __future__ import annotations

from typing import Any

from pydantic import AfterValidator, BaseModel, field_validator

NUL_MESSAGE = "text must not hold the NUL character (U+0000)"


def holds_nul(value: object) -> bool:
    """Whether `value`, or any string inside it (lists, tuples, dicts, keys too), holds NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(holds_nul(v) for v in value)
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    return False


class TextInput(BaseModel):
    """A base for request models: every field's text is checked for NUL (a nested model
    that is a `TextInput` checks its own fields)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return no_nul(value)


def no_nul(value: Any) -> Any:
    """`value` if it holds no NUL, else `ValueError`: for a parameter, `Annotated[str,
    Query(...), WITHOUT_NUL]` (a 422 naming `query.<name>`)."""
    if holds_nul(value):
        raise ValueError(NUL_MESSAGE)
    return value


WITHOUT_NUL = AfterValidator(no_nul)
