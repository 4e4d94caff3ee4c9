"""`python -m papers` runs the CLI (the same as the `papers` console script)."""

from papers.cli import app

if __name__ == "__main__":
    app(prog_name="papers")
