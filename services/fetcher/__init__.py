"""Fetcher: reads news feeds and pages over HTTP (or files from disk) into raw-articles.

The modules here are plain logic with no Kafka in them; `service.py` wires them into the running service:

- `sources`: the sources file and the compacted `sources` topic (the running truth, followed live).
- `feeds`: parsing RSS/Atom feeds, JSON Feed and (news) sitemaps / sitemap indexes into items.
- `http`: fetching feeds and pages with limits, decoding them, the seen-URL store and one poll of a source
  (a feed, a sitemap, or a single page).
- URLs are remembered under their canonical form (`services.runtime.canonical`, shared with the cleaner's article ids).
- `files`: raw-articles from local files (`actorwatch ingest PATH...`).
- `safety`: resolving and checking every address before connecting to it (SSRF, DNS rebinding).
- `polite`: per-host concurrency and spacing, robots.txt (RFC 9309, protego), Retry-After and backoff.
- `health`: per-source validators, schedule and health, kept across restarts (`actorwatch sources status`)."""
