"""The orjson codec, registered with Faust as "orjson" (tables store their values with it)."""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs


class OrjsonCodec(codecs.Codec):  # type: ignore[misc,unused-ignore]  # faust is untyped
    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


def register_orjson_codec() -> None:
    codecs.register("orjson", OrjsonCodec())
