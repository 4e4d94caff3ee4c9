"""Prefect flows: orchestration only (the stage logic lives in the papers package)."""
