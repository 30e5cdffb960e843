"""What a chaos scenario measured: which articles reached their end (a webhook POST for an alerting one, the
tagged-articles topic for a quiet one), which were lost, posted twice or dead-lettered, and the recovery times.
One summary line per scenario, printed and repeated in the session's terminal summary."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from schemas.dead_letter import DeadLetter
from services.settings import Settings
from tests.chaos.articles import Article
from tests.chaos.receivers import Finding, Receiver
from tests.integration.kafka_io import read_to_end

# Every scenario's summary line, in the order they ran (printed again at the end of the session).
SUMMARIES: list[str] = []


def quoted(url: str) -> bytes:
    """The URL as it appears in a contract's JSON: quoted, so 'alert-1' does not match 'alert-10'."""
    return b'"' + url.encode() + b'"'


def dead_letters(bootstrap: str, settings: Settings) -> list[DeadLetter]:
    return [DeadLetter.from_bytes(r.value) for r in read_to_end(bootstrap, settings.topic_dead_letters)]


def tagged_urls(bootstrap: str, settings: Settings, articles: Iterable[Article]) -> set[str]:
    """Which of these articles are on the tagged-articles topic."""
    wanted = {quoted(a.url): a.url for a in articles}
    found: set[str] = set()
    for record in read_to_end(bootstrap, settings.topic_tagged):
        value: bytes = record.value or b""
        found.update(url for q, url in wanted.items() if q in value)
    return found


@dataclass
class Delivery:
    """One webhook's view of a set of articles."""

    receiver: str
    expected: int
    delivered: int
    lost: list[Finding]
    duplicated: dict[Finding, int]
    unexpected: int  # accepted findings no article asked for (a tagger false positive, or a poison's alert)


def delivery(articles: Sequence[Article], receiver: Receiver, letters: Sequence[DeadLetter]) -> Delivery:
    """Per alerting article's finding: how often the receiver accepted it; a finding is lost when it was never
    accepted and its article was not dead-lettered (a dead-lettered one is counted as such, not as lost)."""
    expected = {(a.actor_id, a.counterpart): a for a in articles if a.actor_id and a.counterpart}
    counts = Counter(f for post in receiver.snapshot() for f in post.findings)
    lettered = dead_lettered(articles, letters)
    lost = [f for f, a in expected.items() if counts[f] == 0 and a.url not in lettered]
    return Delivery(
        receiver=receiver.name,
        expected=len(expected),
        delivered=sum(1 for f in expected if counts[f] > 0),
        lost=lost,
        duplicated={f: n for f, n in counts.items() if n > 1 and f in expected},
        unexpected=sum(1 for f in counts if f not in expected),
    )


# A webhook POST and the broker write that marks it delivered cannot be one atomic step: an alerter SIGKILLed
# after the chat accepted a finding and before the mark reached its changelog (a few milliseconds, under a
# tenth of a second on a loaded machine) posts it again after the restart. That is the one repeat a kill may
# cause; any other is a fault.
KILL_WINDOW_S = 0.3


def repeated_across_a_kill(
    receiver: Receiver, duplicated: Iterable[Finding], kills_at: Sequence[float]
) -> set[Finding]:
    """The duplicated findings first accepted at most KILL_WINDOW_S before an alerter was killed and accepted
    again only after that kill."""
    accepted: dict[Finding, list[float]] = {}
    for post in receiver.snapshot():
        for finding in post.findings:
            accepted.setdefault(finding, []).append(post.at)
    explained = set()
    for finding in duplicated:
        first, *again = sorted(accepted.get(finding, []))
        if any(first <= k <= first + KILL_WINDOW_S and all(t > k for t in again) for k in kills_at):
            explained.add(finding)
    return explained


def dead_lettered(articles: Iterable[Article], letters: Sequence[DeadLetter]) -> set[str]:
    """URLs of these articles that some stage dead-lettered."""
    wanted = {quoted(a.url): a.url for a in articles}
    return {url for letter in letters for q, url in wanted.items() if q in letter.original}


def all_delivered(articles: Sequence[Article], receivers: Sequence[Receiver]) -> bool:
    expected = {(a.actor_id, a.counterpart) for a in articles if a.actor_id and a.counterpart}
    for receiver in receivers:
        got = {f for post in receiver.snapshot() for f in post.findings}
        if not expected <= got:
            return False
    return True


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


@dataclass
class Figures:
    scenario: str
    published: int
    expected: int  # what had to arrive (findings per webhook, or poison messages to account for)
    delivered: int
    lost: int
    duplicated: int
    dead_expected: int
    dead_unexpected: int
    recovery_s: list[float] = field(default_factory=list)
    unrecovered: int = 0  # kills or restarts after which the process never finished a message again
    # Of `duplicated`: findings posted again because the alerter was killed right after the chat took them
    # (repeated_across_a_kill), the one repeat a crash may cause; not a fault.
    duplicated_at_kill: int = 0
    exits: list[str] = field(default_factory=list)  # unexpected exits
    troubles: list[str] = field(default_factory=list)  # tracebacks / crashed agents in the logs
    notes: str = ""

    def line(self) -> str:
        if self.recovery_s:
            recovery = (
                f"recovery_s p50={statistics.median(self.recovery_s):.1f} max={max(self.recovery_s):.1f} "
                f"(n={len(self.recovery_s)}, unrecovered={self.unrecovered})"
            )
        else:
            recovery = f"recovery_s n=0 (unrecovered={self.unrecovered})"
        return (
            f"CHAOS {self.scenario}: published={self.published} lost={self.lost} duplicated={self.duplicated} "
            + (f"({self.duplicated_at_kill} across a kill) " if self.duplicated_at_kill else "")
            + f"dead-lettered={self.dead_expected} expected/{self.dead_unexpected} unexpected "
            f"delivered={self.delivered}/{self.expected} {recovery} unexpected_exits={len(self.exits)}"
            + (f" log_troubles={len(self.troubles)}" if self.troubles else "")
            + (f" | {self.notes}" if self.notes else "")
        )

    def problems(self) -> list[str]:
        found = []
        if self.lost:
            found.append(f"{self.lost} lost")
        if self.duplicated > self.duplicated_at_kill:
            found.append(f"{self.duplicated - self.duplicated_at_kill} delivered more than once, not across a kill")
        if self.dead_unexpected:
            found.append(f"{self.dead_unexpected} unexpected dead letters")
        if self.delivered < self.expected:
            found.append(f"only {self.delivered} of {self.expected} delivered")
        if self.unrecovered:
            found.append(f"{self.unrecovered} processes never processed again")
        found += [f"unexpected exit: {e}" for e in self.exits]
        found += [f"log: {t}" for t in self.troubles[:5]]
        return found


def report(figures: Figures) -> Figures:
    line = figures.line()
    print(line)
    SUMMARIES.append(line)
    return figures
