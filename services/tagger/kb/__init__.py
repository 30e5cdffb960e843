"""The dated office-holder knowledge base: who held which office, in which country, from when to when.

Bundled snapshot: `data/*.tsv` (heads of state and government, ministers and security chiefs); more files
come from `actorwatch kb import` (Wikidata SPARQL results). Resolution is as of the article's date."""

from services.tagger.kb.store import KnowledgeBase, KnowledgeBaseError, OfficeRecord, Resolution, load_kb

__all__ = ["KnowledgeBase", "KnowledgeBaseError", "OfficeRecord", "Resolution", "load_kb"]
