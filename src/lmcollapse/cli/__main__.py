"""`python -m lmcollapse.cli`: the command as the installed `lmcollapse` script runs it."""
from lmcollapse.cli import main

main()
