"""VLM captioners (OpenAI-compatible server or local transformers model) behind the Captioner interface.

Chosen by name in `ego360.models.registry` (openai, transformers); heavy imports stay inside the
backends so `import ego360.models.vlm` is cheap.
"""
