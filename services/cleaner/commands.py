"""`actorwatch` subcommands that belong to the cleaner (registered by services/cli.py)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this stage's subcommands to the `actorwatch` parser. Each sets `handler` to a function
    taking the parsed arguments and returning an exit code (raise services.cli.CliError for user errors)."""
