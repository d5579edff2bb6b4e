"""ego360 runtime: light to import (no torch, sam2, tensorrt or transformers at module level)."""

__version__ = "0.1.0"
