"""`python -m papers` runs the CLI (the same as the `papers` console script)."""

from papers.cli import app

app(prog_name="papers")
