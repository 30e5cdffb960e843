"""The cleaner, tagger and alerter as real processes on the real broker, end to end.

One pipeline (its own topics and consumer groups) serves the tests in this module, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from schemas import (
    ActorObservation,
    Alert,
    CleanArticle,
    CounterpartContact,
    DeadLetter,
    Evidence,
    RawArticle,
    TaggedArticle,
)
from services.alerter.webhooks import verify
from services.runtime.kafka_admin import ensure_topics
from services.settings import Settings
from tests.integration.conftest import HttpReceiver, ServiceRunner, namespaced_settings
from tests.integration.kafka_io import publish_bytes, read_all, read_until, wait_group_caught_up

pytestmark = pytest.mark.integration

SIGNING_SECRET = "test-signing-secret"
SEED_URL = "https://example.org/iraq/nujaba-leader-moscow-visit"


@dataclass
class Pipeline:
    settings: Settings
    bootstrap: str
    receiver: HttpReceiver
    runner: ServiceRunner


@pytest.fixture(scope="module")
def pipeline(
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
    module_services: ServiceRunner,
    http_receiver: HttpReceiver,
) -> Iterator[Pipeline]:
    settings = namespaced_settings(
        tmp_path_factory.mktemp("state"),
        webhook_urls=[f"json+{http_receiver.url}"],
        webhook_signing_secret=SIGNING_SECRET,
    )
    asyncio.run(ensure_topics(settings, kafka_bootstrap))
    for service in ("cleaner", "tagger", "alerter"):
        module_services.start(service, settings)
    yield Pipeline(settings, kafka_bootstrap, http_receiver, module_services)
    for started in module_services.started:
        assert started.alive(), f"{started.service} died during the tests:\n{started.log()[-3000:]}"


def raw_seed(seed_text: str) -> RawArticle:
    return RawArticle(
        url=SEED_URL,
        source_id="test-seed",
        fetched_at=datetime(2022, 11, 30, 8, 0, tzinfo=UTC),
        content_type="text/plain",
        body=seed_text,
    )


def alerts_in(p: Pipeline) -> list[Alert]:
    return [Alert.from_bytes(r.value) for r in read_all(p.bootstrap, p.settings.topic_alerts)]


def alerter_delivered(p: Pipeline) -> bool:
    """True once the alerter has queued every alert and each webhook queue has posted (acknowledged) all of it.

    Caught up on the alerts topic alone only means queued: the POST follows from the delivery topic."""
    group = p.settings.group_id("alerter")
    topics = [p.settings.topic_alerts, *p.settings.delivery_topics()]
    return all(wait_group_caught_up(p.bootstrap, group, topic, timeout_s=60) for topic in topics)


def test_seed_article_raises_one_alert_and_one_post(pipeline: Pipeline, seed_text: str) -> None:
    p = pipeline
    publish_bytes(p.bootstrap, p.settings.topic_raw, [(SEED_URL.encode(), raw_seed(seed_text).to_bytes())])

    records = read_until(p.bootstrap, p.settings.topic_alerts, lambda rs: len(rs) >= 1, timeout_s=120)
    assert len(records) == 1, _logs(p)
    alert = Alert.from_bytes(records[0].value)
    assert alert.actor_id == "akram-al-kaabi"
    assert alert.article_url == SEED_URL
    names = {c.name for c in alert.counterparts}
    assert "Mikhail Bogdanov" in names
    bogdanov = next(c for c in alert.counterparts if c.name == "Mikhail Bogdanov")
    assert bogdanov.country == "RUS"
    assert bogdanov.role == "Deputy Foreign Minister"
    assert bogdanov.level == "NEW_COUNTRY"
    assert any("Bogdanov" in e.text for e in bogdanov.evidence)
    # Not counterparts: a religious figure, a think tank, known (IRN, SYR) or domestic (IRQ) bodies, the US.
    assert {c.country for c in alert.counterparts} == {"RUS"}
    assert "Albert Karganov" not in names
    assert set(alert.known_countries) >= {"IRN", "SYR"}

    # Every stage has caught up, the webhook queue too: nothing more is coming.
    assert alerter_delivered(p)
    assert len(alerts_in(p)) == 1
    posts = [r for r in p.receiver.requests if r.headers.get("x-actorwatch-alert-id") == alert.alert_id]
    assert len(posts) == 1, f"expected one POST, got {len(p.receiver.requests)}"
    post = posts[0]
    assert verify(
        post.body,
        SIGNING_SECRET,
        int(post.headers["x-actorwatch-timestamp"]),
        post.headers["x-actorwatch-signature"],
        now=int(datetime.now(UTC).timestamp()),
    )
    assert Alert.model_validate_json(post.body).alert_id == alert.alert_id


def test_the_same_article_again_raises_nothing(pipeline: Pipeline, seed_text: str) -> None:
    p = pipeline
    posts_before = len(p.receiver.requests)
    observations_before = len(read_all(p.bootstrap, p.settings.topic_observations))
    publish_bytes(p.bootstrap, p.settings.topic_raw, [(SEED_URL.encode(), raw_seed(seed_text).to_bytes())])

    # Wait until the second copy went all the way through: a new observation, and the alerter caught up.
    read_until(p.bootstrap, p.settings.topic_observations, lambda rs: len(rs) > observations_before, timeout_s=120)
    group = f"{p.settings.group_prefix}-alerter"
    assert wait_group_caught_up(p.bootstrap, group, p.settings.topic_observations, timeout_s=60), _logs(p)
    assert alerter_delivered(p)
    assert len(read_all(p.bootstrap, p.settings.topic_observations)) > observations_before
    assert len(alerts_in(p)) == 1
    assert len(p.receiver.requests) == posts_before


def _good_message(topic_role: str, seed_text: str) -> tuple[bytes, bytes]:
    """A valid message for each input topic whose effect downstream the test can see."""
    now = datetime.now(UTC)
    if topic_role == "raw":
        raw = RawArticle(
            url="https://example.org/good-raw",
            source_id="t",
            fetched_at=now,
            content_type="text/plain",
            body="A good title\n\nA short paragraph of news text.",
        )
        return b"good-raw", raw.to_bytes()
    article = CleanArticle(
        id="good-clean",
        url="https://example.org/good",
        source="t",
        title="Good",
        text="Nothing happened here.",
        paragraphs=["Nothing happened here."],
        fetched_at=now,
    )
    if topic_role == "clean":
        return b"good-clean", article.to_bytes()
    if topic_role == "tagged":
        return b"good-tagged", TaggedArticle(article=article).to_bytes()
    evidence = Evidence(text="Akram al-Kaabi met French Foreign Minister Anne Exemple.", start=0, end=56)
    observation = ActorObservation(
        actor_id="akram-al-kaabi",
        actor_name="Akram al-Kaabi",
        article_id="good-obs",
        article_url="https://example.org/good-obs",
        article_title="Good observation",
        source="t",
        observed_at=now,
        contacts=[
            CounterpartContact(
                counterpart_id="FRA:anne exemple",
                name="Anne Exemple",
                role="Foreign Minister",
                country="FRA",
                sector="GOV",
                interaction_type="meet",
                modality="happened",
                evidence=evidence,
            )
        ],
    )
    if topic_role == "observations":
        return b"akram-al-kaabi", observation.to_bytes()
    alert = Alert(
        alert_id="good-alert-0001",
        actor_id="akram-al-kaabi",
        actor_name="Akram al-Kaabi",
        counterparts=[
            {
                "counterpart_id": "FRA:anne exemple",
                "name": "Anne Exemple",
                "country": "FRA",
                "sector": "GOV",
                "level": "NEW_COUNTRY",
                "interaction_type": "meet",
                "modality": "happened",
                "evidence": [evidence],
            }
        ],
        article_id="good-alert",
        article_url="https://example.org/good-alert",
        article_title="Good alert",
        source="t",
        created_at=now,
    )
    return b"akram-al-kaabi", alert.to_bytes()


STAGES = {
    "raw": "cleaner.clean",
    "clean": "tagger.tag",
    "tagged": "alerter.observe",
    "observations": "alerter.decide",
    "alerts": "alerter.deliver",
}


@pytest.mark.parametrize("topic_role", list(STAGES))
def test_undecodable_message_goes_to_dead_letters_and_the_next_is_processed(
    pipeline: Pipeline, seed_text: str, topic_role: str
) -> None:
    p = pipeline
    topic = {
        "raw": p.settings.topic_raw,
        "clean": p.settings.topic_clean,
        "tagged": p.settings.topic_tagged,
        "observations": p.settings.topic_observations,
        "alerts": p.settings.topic_alerts,
    }[topic_role]
    bad = b"\xff\xfe not json at all " + topic_role.encode()
    key, good = _good_message(topic_role, seed_text)
    publish_bytes(p.bootstrap, topic, [(key, bad), (key, good)])

    def has_letter(records: list) -> bool:  # type: ignore[type-arg]
        return any(DeadLetter.from_bytes(r.value).original == bad for r in records)

    letters = read_until(p.bootstrap, p.settings.topic_dead_letters, has_letter, timeout_s=90)
    letter = next(
        (DeadLetter.from_bytes(r.value) for r in letters if DeadLetter.from_bytes(r.value).original == bad),
        None,
    )
    assert letter is not None, _logs(p)
    assert letter.stage == STAGES[topic_role]
    assert letter.topic == topic
    assert "not a valid" in letter.error
    assert letter.offset >= 0

    # The good message right behind the bad one was processed.
    if topic_role == "raw":
        out = read_until(
            p.bootstrap,
            p.settings.topic_clean,
            lambda rs: any(b"good-raw" in r.value for r in rs),
            timeout_s=60,
        )
        assert any(CleanArticle.from_bytes(r.value).url == "https://example.org/good-raw" for r in out)
    elif topic_role == "clean":
        out = read_until(
            p.bootstrap,
            p.settings.topic_tagged,
            lambda rs: any(b"good-clean" in r.value for r in rs),
            timeout_s=60,
        )
        assert any(TaggedArticle.from_bytes(r.value).article.id == "good-clean" for r in out)
    elif topic_role == "tagged":
        group = f"{p.settings.group_prefix}-alerter"
        assert wait_group_caught_up(p.bootstrap, group, p.settings.topic_tagged, timeout_s=60)
    elif topic_role == "observations":
        out = read_until(
            p.bootstrap,
            p.settings.topic_alerts,
            lambda rs: any(b"FRA:anne exemple" in r.value for r in rs),
            timeout_s=60,
        )
        assert any(Alert.from_bytes(r.value).article_id == "good-obs" for r in out)
    else:
        assert alerter_delivered(p)
        assert any(r.headers.get("x-actorwatch-alert-id") == "good-alert-0001" for r in p.receiver.requests)


def _logs(p: Pipeline) -> str:
    return "\n".join(f"--- {s.service} ---\n{s.log()[-2500:]}" for s in p.runner.started)
