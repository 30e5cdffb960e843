"""What every topic's message has in common: a schema version, immutability, orjson bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, Self

import orjson
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict

# Bump when a change is not backward compatible; consumers reject versions they do not know.
SCHEMA_VERSION: Literal[1] = 1


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# A timezone-aware timestamp, normalised to UTC so that every message compares and sorts alike.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]

# ISO 3166-1 alpha-3 country code, e.g. "RUS".
CountryCode = Annotated[str, AfterValidator(lambda v: _check_country(v))]


def _check_country(value: str) -> str:
    if len(value) != 3 or not value.isascii() or not value.isalpha() or not value.isupper():
        raise ValueError(f"country must be an ISO 3166-1 alpha-3 code such as 'RUS', got {value!r}")
    return value


class Part(BaseModel):
    """A nested part of a message (no version of its own)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Contract(Part):
    """A whole message on a topic. Unknown fields are ignored so that producers can add optional fields."""

    schema_version: Literal[1] = SCHEMA_VERSION

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, data: bytes | str) -> Self:
        return cls.model_validate_json(data)


def utc_now() -> datetime:
    return datetime.now(UTC)
