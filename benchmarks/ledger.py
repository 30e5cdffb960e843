"""The alerter's decision against a ledger growing to 50,000 counterparts of one actor, and its value sizes.

    python -m benchmarks.ledger [--counterparts 50000] [--probes 400] [--rounds 5]

One actor's ledger grows by observations of five new officials each (spread over 100 countries, each
raising an alert, so cards grow too). At 1k, 10k and 50k counterparts rounds of probe observations are
decided (the median round printed), each with three contacts as a busy actor's news has them: a new
official of a known country (an alert), another spelling of a known one (no alert) and a known one from
a new publisher (a corroboration update). Every decision runs as the alerter's decide agent runs it,
minus Kafka: `decide` over the keyed tables (plain dicts here, Faust tables there: the same
`KeyedLedger`), the size checks (`check_messages`, `encode`: every value serialised) and the writes.
Printed per step: decisions/s while growing and for the probes (alerts and updates of one round), the
largest table value in bytes, and what the old one-value ledger (all records and up to 200 cards) would
have weighed."""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta

import orjson

from schemas.actor_observation import ActorObservation, CounterpartContact
from schemas.tagged_article import EntityKind, Evidence, InteractionType, Modality, Sector
from schemas.watchlist import WatchlistEntry
from services.alerter.decide import AlertRules, check_messages, decide
from services.alerter.identity import counterpart_id
from services.alerter.store import KeyedLedger

ACTOR = WatchlistEntry(
    actor_id="akram-al-kaabi",
    name="Akram al-Kaabi",
    kind=EntityKind.PERSON,
    home_country="IRQ",
    known_counterpart_countries=["IRN", "SYR"],
)
RULES = AlertRules()
T0 = datetime(2026, 1, 1, tzinfo=UTC)
COUNTRIES = [f"Q{a}{b}" for a in "ABCDEFGHIJ" for b in "ABCDEFGHIJ"]  # 100 codes, none of them IRQ/IRN/SYR
CONSONANTS = "bdfgklmnprstvz"
PER_OBSERVATION = 5
STEPS = (1_000, 10_000, 50_000)


def word(n: int) -> str:
    # Consonant + 'a' syllables: two numbers never give names identity.py takes for one person.
    parts: list[str] = []
    while n or len(parts) < 3:
        n, r = divmod(n, len(CONSONANTS))
        parts.append(CONSONANTS[r] + "a")
    return "".join(parts).capitalize()


def name(i: int) -> str:
    return f"{word(i)} {word(i * 31 + 5)}"


def variant(i: int) -> str:
    # Another transliteration of the same person: one vowel of the given name differs.
    given, surname = name(i).split()
    return f"{given[:-1]}e {surname}"


def contact(person: str, country: str, n: int) -> CounterpartContact:
    sentence = f"Akram al-Kaabi met {person}, a senior official, in the capital on Tuesday."
    return CounterpartContact(
        counterpart_id=counterpart_id(country, person),
        name=person,
        role="Deputy Minister",
        country=country,
        sector=Sector.GOV,
        interaction_type=InteractionType.MEET,
        modality=Modality.HAPPENED,
        evidence=Evidence(text=sentence, start=n * 100, end=n * 100 + len(sentence)),
    )


def observation(article: str, contacts: list[CounterpartContact], source: str, at: datetime) -> ActorObservation:
    return ActorObservation(
        actor_id=ACTOR.actor_id,
        actor_name=ACTOR.name,
        article_id=article,
        article_url=f"https://news.example/{article}",
        article_title=f"Article {article}",
        source=source,
        published_at=at,
        observed_at=at,
        contacts=contacts,
    )


def country_of(i: int) -> str:
    return COUNTRIES[i % len(COUNTRIES)]


def run_one(ledger: KeyedLedger, obs: ActorObservation) -> tuple[bool, int]:
    """One decision as the decide agent makes it: decide, check every size, write. (alerted, updates)"""
    decision = decide(obs, ledger, ACTOR, RULES, now=obs.observed_at)
    check_messages(decision)
    ledger.apply(ledger.encode(decision.writes))
    return decision.alert is not None, len(decision.updates)


def largest_value(ledger: KeyedLedger) -> tuple[int, str]:
    best = (0, "")
    for table, rows in ledger.tables.items():
        for key, value in rows.items():
            size = len(orjson.dumps(value)) + len(key.encode())
            if size > best[0]:
                best = (size, table)
    return best


def old_format_bytes(ledger: KeyedLedger) -> int:
    """What the one-value `counterpart_ledger` row of the actor would weigh: all records, 200 newest cards."""
    view = ledger.view(ACTOR.actor_id)
    cards = dict(list(view.alerts.items())[-200:])
    return len(orjson.dumps(view.model_copy(update={"alerts": cards}).to_dict()))


def probes(ledger: KeyedLedger, known: int, count: int, step: int, round_: int) -> tuple[float, int, int]:
    """Decide `count` probe observations; returns (decisions/s, alerts, updates)."""
    observations = []
    for p in range(round_ * count, (round_ + 1) * count):
        fresh = 10_000_000 + step * 100_000 + p
        old_a, old_b = (p * 7919) % known, (p * 104_729 + 1) % known
        observations.append(
            observation(
                f"probe-{step}-{p}",
                [
                    contact(name(fresh), country_of(fresh), 0),
                    contact(variant(old_a), country_of(old_a), 1),
                    contact(name(old_b), country_of(old_b), 2),
                ],
                source=f"probe-publisher-{step}-{p}",
                at=T0 + timedelta(days=400, minutes=p),
            )
        )
    alerts = updates = 0
    started = time.perf_counter()
    for obs in observations:
        alerted, updated = run_one(ledger, obs)
        alerts += alerted
        updates += updated
    return count / (time.perf_counter() - started), alerts, updates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counterparts", type=int, default=STEPS[-1])
    parser.add_argument("--probes", type=int, default=400, help="probe observations per round")
    parser.add_argument("--rounds", type=int, default=5, help="probe rounds per step (median printed)")
    args = parser.parse_args()
    steps = [s for s in STEPS if s < args.counterparts] + [args.counterparts]

    ledger = KeyedLedger.in_memory()
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    print(
        f"{'counterparts':>12} {'grow/s':>8} {'probe/s':>8} {'range':>9} {'alerts':>6} {'updates':>7} "
        f"{'largest value':>14} {'in table':<28} {'old one-value row':>17}"
    )
    made = 0
    grow_time = 0.0
    grown = 0
    for step in steps:
        started = time.perf_counter()
        while made < step:
            batch = [contact(name(made + k), country_of(made + k), k) for k in range(PER_OBSERVATION)]
            at = T0 + timedelta(minutes=made)
            run_one(ledger, observation(f"grow-{made}", batch, source=f"publisher-{made % 50}", at=at))
            made += PER_OBSERVATION
            grown += 1
        grow_time += time.perf_counter() - started
        size, table = largest_value(ledger)
        # Each round on its own copy, so every round sees this step's ledger; the median is printed, with the
        # range, as this machine's single runs swing with its other load.
        results = [probes(ledger.copy(), made, args.probes, step, r) for r in range(args.rounds)]
        rates = sorted(r[0] for r in results)
        alerts, updates = results[0][1], results[0][2]
        spread = f"{rates[0]:.0f}-{rates[-1]:.0f}"
        print(
            f"{made:>12,} {grown / grow_time:>8.0f} {statistics.median(rates):>8.0f} {spread:>9} "
            f"{alerts:>6} {updates:>7} {size:>14,} {table:<28} {old_format_bytes(ledger):>17,}"
        )
    rows = {table: len(values) for table, values in ledger.tables.items()}
    print("rows:", ", ".join(f"{t} {n:,}" for t, n in rows.items()))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
