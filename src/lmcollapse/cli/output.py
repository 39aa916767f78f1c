"""Where the commands print: one console for tables and text on stdout, one for stderr. Without a terminal
(a pipe, a log, CI) rich would cut tables to 80 columns ("alpha=0…"); there they get all the room they need,
so piped output and logs read in full."""
from __future__ import annotations

import sys

from rich.console import Console

PIPED_WIDTH = 1000  # wide enough for any table lmcollapse prints; tables never stretch to the console's width

console = Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=PIPED_WIDTH)
