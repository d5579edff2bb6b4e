"""The stages of the alert path, in frame order: trigger → entities (tracker) → alerts → output.

Each is a class with one `process()`; every service it needs comes through its constructor
(`ego360.runtime.session.build_stages` wires them); `Work` (core.packets) travels between them.
"""
