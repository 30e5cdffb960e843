"""Topic `dead-letters` (every stage): a message a stage could not process, with the reason and the bytes."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from schemas.base import Contract, UtcDatetime


class DeadLetter(Contract):
    # Bytes travel as base64 in JSON, and are read back from base64.
    model_config = ConfigDict(frozen=True, extra="ignore", ser_json_bytes="base64", val_json_bytes="base64")

    stage: str = Field(description="Service and step that failed, e.g. 'cleaner'.")
    error: str = Field(description="One line: the exception type and message.")
    original: bytes = Field(description="The message value exactly as read (base64 in JSON).")
    original_key: bytes | None = None
    original_size: int | None = Field(default=None, ge=0, description="Size of the original value in bytes.")
    original_sha256: str | None = Field(default=None, description="Hex SHA-256 of the whole original value.")
    truncated: bool = Field(
        default=False,
        description="True when `original` holds only the first bytes (large messages); the whole message "
        "stays in `topic` at `partition`/`offset` for as long as that topic retains it.",
    )
    topic: str
    partition: int
    offset: int
    failed_at: UtcDatetime


class DeadLetterReplay(Contract):
    """Topic `<dead-letters>-replayed` (compacted, keyed by letter id): `actorwatch dlq replay` sent the
    letter's original back to its input topic. Written after the broker acknowledged the original."""

    letter_id: str = Field(description="'<partition>-<offset>' of the letter in the dead-letter topic.")
    letter_sha256: str = Field(
        description="Hex SHA-256 of the letter's record value: a letter at the same place in a re-created "
        "dead-letter topic is another letter, not yet replayed."
    )
    topic: str = Field(description="Input topic the original went back to.")
    partition: int = Field(ge=0)
    offset: int = Field(ge=0, description="Offset of the replayed original in `topic`.")
    replayed_at: UtcDatetime
