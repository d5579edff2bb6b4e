"""`ego360 bench …` measurements: projection, replay per stage, TTS; each writes JSON + markdown + plots."""
