"""Reading the broker's per-topic answers to CreateTopics (services/runtime/kafka_admin.py). No Kafka."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from services.runtime.kafka_admin import BrokerUnavailable, TopicsRefused, check_created


def test_created_and_already_existing_topics_pass() -> None:
    check_created(SimpleNamespace(topic_errors=[("a", 0, None), ("b", 36, "Topic 'b' already exists.")]))
    check_created(SimpleNamespace(topic_errors=[("a", 0), ("b", 36)]))  # CreateTopics v0: no message


def test_a_refused_topic_names_itself_and_the_reason_on_one_line() -> None:
    refused = "Unable to replicate the partition 3 time(s):\nonly 1 broker(s) are registered."
    with pytest.raises(TopicsRefused) as caught:
        check_created(SimpleNamespace(topic_errors=[("ok", 0, None), ("alerts", 38, refused)]))
    message = str(caught.value)
    assert message.startswith("the broker refused to create topic alerts: Unable to replicate") and "\n" not in message
    assert isinstance(caught.value, BrokerUnavailable)  # the CLI's one-line error path
    with pytest.raises(TopicsRefused, match=r"topic alerts: InvalidReplicationFactorError \(error 38\)"):
        check_created(SimpleNamespace(topic_errors=[("alerts", 38)]))
