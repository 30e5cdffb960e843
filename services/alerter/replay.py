"""Replaying tagged articles through the rules without Kafka: learn mode and the back-test.

- `learn_observations`: tagged articles -> learn-only observations (`backfill --learn-only`), which the
  running alerter folds into its ledger without alerting;
- `backtest`: tagged articles -> the alerts the current rules and watchlist would have raised, in a
  throwaway ledger; articles before `since` only teach the ledger (what a live system would have known)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from schemas.actor_observation import ActorObservation
from schemas.alert import Alert
from schemas.tagged_article import TaggedArticle
from services.alerter.decide import decide, observations_from_tagged, rules_for
from services.alerter.ledger import CounterpartLedger
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
    ledgers: dict[str, CounterpartLedger] = field(default_factory=dict)


def backtest(
    articles: Iterable[TaggedArticle],
    watchlist: Watchlist,
    *,
    since: datetime,
    ledgers: Mapping[str, CounterpartLedger] | None = None,
) -> BacktestResult:
    """The alerts the rules would have raised for articles from `since` on (corroboration updates are not
    counted: they are not new alerts). Delivers nothing and touches no live state."""
    result = BacktestResult(ledgers=dict(ledgers or {}))
    for tagged in in_order(articles):
        when = article_time(tagged)
        learning = when < since
        if learning:
            result.learned += 1
        else:
            result.articles += 1
        for obs in observations_from_tagged(tagged, watchlist.entries, now=when):
            entry = watchlist.entries[obs.actor_id]
            ledger = result.ledgers.get(obs.actor_id) or CounterpartLedger(actor_id=obs.actor_id)
            if learning:
                obs = obs.model_copy(update={"learn_only": True})
            decision = decide(obs, ledger, entry, rules_for(entry, watchlist.defaults), now=when)
            result.ledgers[obs.actor_id] = decision.ledger
            if decision.alert is not None:
                result.alerts.append(decision.alert)
                result.per_day[when.date()] += 1
    return result
