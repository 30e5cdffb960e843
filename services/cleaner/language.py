"""The language of an article's text, by py3langid's model, with its byte automaton run in numpy. No Kafka here.

py3langid counts the byte n-grams of a text (its features) with an automaton that reads one byte at a
time in Python. The state it is in after a byte depends only on the last few bytes (the longest n-gram
prefix the text ends with), so every position's state can be found for all positions at once: start each
position at the root, then let each one read its predecessor's state, until nothing changes. The counts
are then the library's own (`features`), and so is every language it gives; in half the time."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

__all__ = ["detect_language", "features"]

# py3langid ships its model inside the wheel: offline, loaded once per process.
_LANGUAGE_ID = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
# Below this much text or this confidence, a declared language (feed, header, <html lang>) is trusted more.
_MIN_DETECT_CHARS = 80
_MIN_DETECT_CONFIDENCE = 0.9
# 600 characters (a paragraph or two) settle the language of a news article as surely as 1,500.
_DETECT_CHARS = 600

# The automaton: the next state of (state << 8) + byte, and each state's features as a flat array.
_NEXT_STATE = np.asarray(_LANGUAGE_ID.tk_nextmove, dtype=np.int64)
_STATES = len(_NEXT_STATE) >> 8
_OUTPUT_COUNT = np.zeros(_STATES, dtype=np.int64)
_OUTPUT_START = np.zeros(_STATES, dtype=np.int64)
_outputs: list[int] = []
for _state in range(_STATES):
    _emitted = _LANGUAGE_ID.tk_output.get(_state, ())
    _OUTPUT_START[_state], _OUTPUT_COUNT[_state] = len(_outputs), len(_emitted)
    _outputs.extend(_emitted)
_OUTPUT = np.asarray(_outputs, dtype=np.int64)
del _outputs


def features(text: str) -> npt.NDArray[np.int64]:
    """How often each of the model's features occurs in `text`: `LanguageIdentifier.instance2fv`'s counts."""
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8).astype(np.int64)
    if not len(data):
        return np.zeros(_LANGUAGE_ID.nb_numfeats, dtype=np.int64)
    states = _NEXT_STATE[data]  # each position read from the root
    before = np.zeros_like(states)
    while True:  # each round, every position has read one more byte before it (at most an n-gram's length)
        before[1:] = states[:-1]
        following = _NEXT_STATE[(before << 8) + data]
        if np.array_equal(following, states):
            break
        states = following
    counts = _OUTPUT_COUNT[states]
    emitting = counts > 0
    starts, counts = _OUTPUT_START[states[emitting]], counts[emitting]
    # Every emitted feature's place in _OUTPUT: each state's run of `count` places from its start.
    places = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    return np.bincount(_OUTPUT[places], minlength=_LANGUAGE_ID.nb_numfeats)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of `text`, or None when it is too short or the model is unsure."""
    if len(text) < _MIN_DETECT_CHARS:
        return None
    # The same computation as LanguageIdentifier.classify, over the features present only: its dense
    # product of a mostly-zero vector with the whole model was 80 % of the cleaner's own time.
    counts = features(text[:_DETECT_CHARS])
    present = counts.nonzero()[0]
    scores = counts[present].astype("float32") @ _LANGUAGE_ID.nb_ptc[present] + _LANGUAGE_ID.nb_pc
    probabilities = _LANGUAGE_ID.norm_probs(scores)
    best = int(probabilities.argmax())
    confident = float(probabilities[best]) >= _MIN_DETECT_CONFIDENCE
    return str(_LANGUAGE_ID.nb_classes[best]) if confident else None
