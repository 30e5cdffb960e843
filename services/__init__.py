"""actorwatch services: fetcher, cleaner, tagger, alerter, and the runtime they share."""
