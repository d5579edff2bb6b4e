"""Services the stages are handed through their constructors: the events log, the annotated video,
the VLM caption feed and grounding (both on the deadline helper of `ego360.core.deadline`)."""
