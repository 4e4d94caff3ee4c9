"""Pure stage functions on polars frames: no file I/O, no Prefect, no printing."""
