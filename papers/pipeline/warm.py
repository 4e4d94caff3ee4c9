"""warm: what a build loads on its first use, loaded ahead.

`papers run` waits about two seconds for Prefect's temporary server, which boots on the other
core, with nothing to do on its own (papers.cli.lifeline.serving): it loads here meanwhile
what the build's tasks would load on their first use. A build does the same with or without it.
"""

from __future__ import annotations

from papers.config import Params
from papers.pipeline.similarity import load_model
from schemas import Tags, empty_frame


def warm_up(params: Params) -> None:
    """Load what a build with these params loads on first use: Pandera's polars backend and
    its checks (registered by a schema's first validation, ~0.1 s), the report's page module
    (jinja2), the related papers' model when the params embed (~0.3 s)."""
    Tags.validate(empty_frame(Tags))
    import papers.report  # noqa: F401

    load_model(params.related)
