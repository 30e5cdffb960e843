"""Replaying tagged articles through the rules without Kafka: learn mode and the back-test.

- `learn_observations`: tagged articles -> learn-only observations (`backfill --learn-only`), which the
  running alerter folds into its ledger without alerting;
- `backtest`: tagged articles -> the alerts the current rules and watchlist would have raised, in a
  throwaway ledger; articles before `since` only teach the ledger (what a live system would have known)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from schemas.actor_observation import ActorObservation
from schemas.alert import Alert
from schemas.tagged_article import TaggedArticle
from services.alerter.decide import check_messages, decide, observations_from_tagged, rules_for
from services.alerter.ledger import ValueTooLarge
from services.alerter.store import KeyedLedger
from services.watchlist import Watchlist


def article_time(tagged: TaggedArticle) -> datetime:
    """When the article happened for replay purposes: published, else fetched."""
    return tagged.article.published_at or tagged.article.fetched_at


def in_order(articles: Iterable[TaggedArticle]) -> list[TaggedArticle]:
    """Chronological (stable for equal times), so a replay sees history the way it unfolded."""
    return sorted(articles, key=article_time)


def learn_observations(articles: Iterable[TaggedArticle], watchlist: Watchlist) -> list[ActorObservation]:
    observations: list[ActorObservation] = []
    for tagged in in_order(articles):
        for obs in observations_from_tagged(tagged, watchlist.entries, now=article_time(tagged)):
            observations.append(obs.model_copy(update={"learn_only": True}))
    return observations


@dataclass
class BacktestResult:
    alerts: list[Alert] = field(default_factory=list)
    per_day: Counter[date] = field(default_factory=Counter)
    articles: int = 0  # replayed from `since` on
    learned: int = 0  # before `since`: ledger only
    too_large: int = 0  # observations whose alert or ledger values would exceed the size cap
    # The throwaway ledger of every actor: the same keyed tables as the alerter's, as plain dicts.
    ledger: KeyedLedger = field(default_factory=KeyedLedger.in_memory)


def backtest(
    articles: Iterable[TaggedArticle],
    watchlist: Watchlist,
    *,
    since: datetime,
    ledger: KeyedLedger | None = None,
) -> BacktestResult:
    """The alerts the rules would have raised for articles from `since` on (corroboration updates are not
    counted: they are not new alerts). Delivers nothing and touches no live state (a given `ledger` is
    copied, not changed)."""
    result = BacktestResult(ledger=ledger.copy() if ledger is not None else KeyedLedger.in_memory())
    for tagged in in_order(articles):
        when = article_time(tagged)
        learning = when < since
        if learning:
            result.learned += 1
        else:
            result.articles += 1
        for obs in observations_from_tagged(tagged, watchlist.entries, now=when):
            entry = watchlist.entries[obs.actor_id]
            if learning:
                obs = obs.model_copy(update={"learn_only": True})
            decision = decide(obs, result.ledger, entry, rules_for(entry, watchlist.defaults), now=when)
            try:
                check_messages(decision)
                result.ledger.apply(decision.writes)
            except ValueTooLarge:
                result.too_large += 1  # the live alerter dead-letters these: no alert, nothing learnt
                continue
            if decision.alert is not None:
                result.alerts.append(decision.alert)
                result.per_day[when.date()] += 1
    return result
