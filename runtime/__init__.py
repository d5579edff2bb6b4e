"""ego360 runtime: sources, pipeline, stages, alerting, audio, session (the run path; no torch at import)."""
