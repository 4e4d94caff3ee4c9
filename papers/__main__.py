"""`python -m papers` runs the CLI (the same as the `papers` console script)."""

from papers.cli import main

if __name__ == "__main__":
    main()
