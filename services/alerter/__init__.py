"""Alerter logic, free of Kafka: turn tagged articles into per-actor observations, decide against each
actor's counterpart ledger whether a foreign government contact is new, and deliver alerts to webhooks.

- `ledger`: the per-actor counterpart ledger (a JSON-able dict in the Faust table keyed by actor_id).
- `decide`: tagged article -> observations; observation + ledger -> (alert or none, new ledger). Pure.
- `webhooks`: chat/JSON payload formatting, HMAC signing and delivery with retries."""
