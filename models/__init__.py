"""Model backends (trigger, trackers, captioners); heavy imports live inside factories."""
