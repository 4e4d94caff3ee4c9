"""Curated research-paper dataset: pure polars stage functions, I/O and the CLI."""

__version__ = "0.1.0"
