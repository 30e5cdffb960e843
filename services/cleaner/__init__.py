"""Cleaner stage: raw fetched documents in, clean article text out (see extract.py)."""
