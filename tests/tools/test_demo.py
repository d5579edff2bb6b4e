"""The README's first command in miniature: `ego360 demo` renders, replays and reports what was said."""

from __future__ import annotations

import av

from ego360.runtime.services.events_log import read_events
from ego360.tools.cli import main


def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--width", "960", "--set", "audio.sink=file"]) == 0
    text = capsys.readouterr().out
    replay = out / "replay"
    alerts = [e for e in read_events(replay / "events.jsonl") if e["type"] == "alert"]
    assert alerts, "the demo's stealing scenario produced no alert"
    assert alerts[0]["text"].split(",")[0] in text  # what was said is shown to the user
    assert str(replay / "annotated.mp4") in text
    with av.open(str(replay / "annotated.mp4")) as c:
        kinds = sorted(s.type for s in c.streams)
    assert kinds == ["audio", "video"]
