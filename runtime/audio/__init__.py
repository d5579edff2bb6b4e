"""Alert audio: policy, earcons, placement (stereo pan or binaural HRTF, spatial.py), TTS worker (pyttsx3 or
Piper), mixer and sinks.

Only numpy-level modules are imported here; `sounddevice` and `pyttsx3` are imported lazily inside
the classes that need them so `import runtime.audio` works on machines without an audio stack.
"""

from ego360.runtime.audio.earcon import make_earcon
from ego360.runtime.audio.pan import pan_gains, spatialize
from ego360.runtime.audio.policy import AlertPolicy, Decision, PolicyCounters

__all__ = ["AlertPolicy", "Decision", "PolicyCounters", "make_earcon", "pan_gains", "spatialize"]
