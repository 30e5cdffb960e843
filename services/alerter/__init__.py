"""Alerter logic, free of Kafka: turn tagged articles into per-actor observations, decide against each
actor's counterpart ledger whether a foreign government contact is new, and deliver alerts to webhooks.

- `observe`: tagged article -> per-actor observations. Pure.
- `decide`: observation + ledger reader -> alert (or none) and the ledger writes. Pure.
- `ledger`, `store`, `identity`: the counterpart records, their keyed tables, and who is the same person.
- `formats`, `webhooks`: chat/JSON payloads, escaping, HMAC signing, one POST with an overall deadline.
- `delivery`, `queues`: a webhook's own queue, retried for as long as the target is down."""
