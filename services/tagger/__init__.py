"""Tagger stage: finds watched actors, their counterparts and their interactions in clean articles.

Public API (services.tagger.tag): Tagger(watchlist, lexicon=None).tag(article) and load_lexicon(folder=None).
The lexicons are plain TSV files in services/tagger/lexicon/."""
