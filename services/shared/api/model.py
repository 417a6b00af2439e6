"""The base of every public shape: snake_case in Python, camelCase in JSON, read from table rows or
any object with the same attribute names."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# camelCase names; built from table rows or any object with the same attributes; an answer's schema
# lists every field as required (a serialised answer always has them, null or not)
PUBLIC_CONFIG = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True,
                           serialize_by_alias=True, use_attribute_docstrings=True,
                           json_schema_serialization_defaults_required=True)


class ApiModel(BaseModel):
    """A response (or part of one). Fields are documented by `Field(description=...)` or a docstring
    under the field, and the class by its docstring: they become the OpenAPI schema's descriptions.
    A SQLModel base takes the same `model_config = PUBLIC_CONFIG` to be a public shape."""

    model_config = PUBLIC_CONFIG


# a request body: camelCase names, unknown fields ignored (a newer client may send more)
REQUEST_CONFIG = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore",
                            use_attribute_docstrings=True)


class RequestBody(BaseModel):
    model_config = REQUEST_CONFIG
