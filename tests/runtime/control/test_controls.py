"""The wearer's controls: each action's effect on what is spoken (file sink), the HTTP API with and
without its token, media-button gestures from a fake input-event byte stream, keys from a fake stream."""

from __future__ import annotations

import dataclasses
import io
import json
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from ego360.core.config import AlertsConfig, AudioConfig, ControlConfig, TTSConfig
from ego360.core.packets import Alert
from ego360.runtime.audio.policy import AlertPolicy, Decision
from ego360.runtime.audio.sinks import open_sink
from ego360.runtime.audio.speaker import Speaker
from ego360.runtime.control.actions import Controls
from ego360.runtime.control.cues import CUE_TONES_HZ
from ego360.runtime.control.http_api import ControlServer, Response, Router, control_routes
from ego360.runtime.control.keys import KeyReader
from ego360.runtime.control.media import EV_KEY, KEY_NEXTSONG, KEY_PLAYPAUSE, Gestures, MediaButton, parse_events
from ego360.runtime.services.entity_snapshot import EntitySnapshot, EntityView

SR = 16000


class RecordingTTS:
    """Stands in for the TTS worker: records (text, rate) and answers at once with 0.2 s of a 300 Hz tone."""

    def __init__(self) -> None:
        self._cfg = TTSConfig(rate_wpm=190)
        self.said: list[tuple[str, int]] = []
        self.stats = None

    @property
    def rate_wpm(self) -> int:
        return self._cfg.rate_wpm

    def set_rate(self, wpm: int) -> None:
        self._cfg = TTSConfig(rate_wpm=wpm)

    def submit(self, text, callback=None):
        self.said.append((text, self._cfg.rate_wpm))
        n = int(0.2 * SR)
        callback((0.2 * np.sin(2 * np.pi * 300 * np.arange(n) / SR)).astype(np.float32))

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def rig(tmp_path: Path):
    cfg = AudioConfig(sink="file", sample_rate=SR, earcon_ms=120, spatial="pan")
    out = open_sink(cfg, tmp_path / "alerts.wav")
    tts = RecordingTTS()
    speaker = Speaker(cfg, TTSConfig(), out, tts=tts)
    snapshot = EntitySnapshot()
    clock = Clock()
    now = [0.0]
    controls = Controls(ControlConfig(mute_minutes=10), AlertsConfig(), speaker, snapshot, video_t=lambda: now[0],
                        clock=clock, sample_rate=SR)
    return controls, speaker, tts, out.file_sink, snapshot, clock, now


def alert(priority: int = 2, text: str = "Behind you, 6 o'clock: person approaching.") -> Alert:
    return Alert(10, 1.0, 0, 1, "perpetrator", 176.0, 6, priority, text)


def dominant_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / SR)[np.argmax(spec)])


def test_each_action_is_confirmed_by_a_distinct_cue(rig):
    controls, speaker, tts, sink, _, _, now = rig
    now[0] = 2.0
    r = controls.set_earcons(True)
    assert r.ok and speaker.stats.cues == 1
    x = sink.render()
    first_tick = x[int(2.0 * SR): int(2.0 * SR) + int(0.035 * SR), 0]
    assert dominant_hz(first_tick) == pytest.approx(CUE_TONES_HZ["ok"][0], abs=40)  # above every alert earcon
    assert np.allclose(x[:, 0], x[:, 1])  # centred: no direction implied
    assert tts.said == []  # a cue, no words


def test_repeat_says_the_last_alert_again_or_refuses(rig):
    controls, speaker, tts, _, _, _, _ = rig
    assert not controls.repeat_last().ok  # nothing yet
    speaker.announce(alert(), Decision(True, False, "speak"), 1.0)
    r = controls.repeat_last()
    assert r.ok and r.said == alert().text
    assert [t for t, _ in tts.said] == [alert().text, alert().text]
    assert controls.counts == {"repeat_refused": 1, "repeat": 1}


def test_around_me_lists_entities_nearest_first_by_clock_and_distance(rig):
    controls, _, tts, _, snapshot, _, _ = rig
    assert controls.around_me().said == "Nothing tracked around you."
    snapshot.update((EntityView(1, "none", "person", 60.0, 2, 7.6, "far", "moving"),
                     EntityView(2, "perpetrator", "person", 176.0, 6, 2.2, "close", "approaching"),
                     EntityView(3, "none", "car", -90.0, 9, float("inf"), "", "moving")), 3.0)
    r = controls.around_me()
    assert r.said == ("3 around you. 6 o'clock, person, 2 metres, approaching. 2 o'clock, person, 8 metres, moving. "
                      "9 o'clock, car, distance unknown, moving.")
    assert tts.said[-1][0] == r.said


def test_mute_lets_only_danger_through_and_expires(rig):
    controls, speaker, _, _, _, clock, _ = rig
    pol = AlertPolicy(AlertsConfig(hold_s=0.0, cooldown_s=0.0, repeat_s=0.0), gate=controls.floor)
    controls.mute(2)
    assert controls.state().muted and controls.state().mute_left_s == 120.0
    assert pol.decide(alert(2), 0).reason == "muted"
    assert pol.decide(alert(3), 0).speak  # danger still comes through
    clock.t += 121
    later = dataclasses.replace(alert(2), capture_ns=10 * 10**9)  # after the danger utterance
    assert not controls.state().muted and pol.decide(later, 10 * 10**9).speak  # muted for 2 minutes only
    controls.toggle_mute()
    assert controls.state().mute_left_s == 600.0  # control.mute_minutes
    controls.unmute()
    assert controls.floor() == (0, "")


def test_verbosity_levels(rig):
    controls, _, _, _, _, _, _ = rig
    assert controls.set_verbosity("danger").ok and controls.floor() == (3, "verbosity")
    assert controls.set_verbosity("captions").ok and controls.captions_on() and controls.floor() == (0, "")
    assert not controls.set_verbosity("everything").ok
    assert controls.cycle_verbosity().state.verbosity == "danger"


def test_earcons_off_speech_starts_at_once(rig):
    controls, speaker, _, sink, _, _, _ = rig
    controls.set_earcons(False)
    speaker.announce(alert(), Decision(True, False, "speak"), 5.0)
    x = sink.render()
    seg = x[int(5.0 * SR): int(5.0 * SR) + int(0.1 * SR), 0]
    assert len(x) == int(5.0 * SR) + int(0.2 * SR)  # only the 0.2 s of speech: no 0.12 s earcon before it
    assert dominant_hz(seg) == pytest.approx(300, abs=20)  # speech, not the 440/294 Hz behind earcon
    controls.set_earcons(None)
    assert speaker.earcons


def test_speech_rate_changes_the_next_utterance(rig):
    controls, speaker, tts, _, _, _, _ = rig
    controls.faster()
    speaker.say(alert(), 1.0)
    controls.slower()
    controls.slower()
    speaker.say(alert(), 2.0)
    assert [r for _, r in tts.said] == [210, 170]
    assert not controls.set_rate(2000).ok


# -- HTTP -------------------------------------------------------------------------------------------


def call(url: str, method: str = "GET", body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_http_api_needs_the_token_and_drives_the_controls(rig):
    controls, _, tts, _, _, _, _ = rig
    router = control_routes(Router(), controls)
    router.add_route("GET", "/dashboard/ping", lambda req: Response.json({"pong": True}))  # a later dashboard
    server = ControlServer(router, token="s3cret").start()
    base = server.url
    try:
        assert base.startswith("http://127.0.0.1:")
        assert call(f"{base}/api/state")[0] == 403
        assert call(f"{base}/api/state", token="wrong")[0] == 403
        assert call(f"{base}/api/mute", "POST", {"minutes": 1})[0] == 403
        assert not controls.state().muted  # refused requests change nothing
        status, state = call(f"{base}/api/state", token="s3cret")
        assert status == 200 and state["muted"] is False and state["verbosity"] == "alerts"
        status, res = call(f"{base}/api/mute", "POST", {"minutes": 1}, token="s3cret")
        assert status == 200 and res["state"]["muted"] and res["state"]["mute_left_s"] == 60.0
        assert call(f"{base}/api/verbosity", "POST", {"level": "danger"}, token="s3cret")[0] == 200
        assert call(f"{base}/api/verbosity", "POST", {"level": "loud"}, token="s3cret")[0] == 409
        assert call(f"{base}/api/earcons", "POST", {"on": "yes"}, token="s3cret")[0] == 400
        assert call(f"{base}/api/repeat", "POST", token="s3cret")[0] == 409  # nothing to repeat
        status, res = call(f"{base}/api/around", "POST", token="s3cret")
        assert status == 200 and tts.said[-1][0] == res["said"] == "Nothing tracked around you."
        assert call(f"{base}/api/rate", "POST", {"step": -1}, token="s3cret")[1]["state"]["rate_wpm"] == 170
        assert call(f"{base}/api/entities", token="s3cret") == (200, [])
        assert call(f"{base}/dashboard/ping?token=s3cret") == (200, {"pong": True})
        assert call(f"{base}/api/state", "POST", token="s3cret")[0] == 405
        assert call(f"{base}/nope", token="s3cret")[0] == 404
        assert server.refused == 3
    finally:
        server.close()


def test_server_makes_a_token_when_none_is_configured(rig):
    controls = rig[0]
    server = ControlServer(control_routes(Router(), controls))
    try:
        assert len(server.token) >= 16
    finally:
        server.close()


# -- media button and keys ------------------------------------------------------------------------


def events(*items: tuple[float, int, int, int]) -> bytes:
    """(time, type, code, value) → the kernel's struct input_event bytes ('llHHi')."""
    return b"".join(struct.pack("llHHi", int(t), int(round((t % 1) * 1e6)), typ, code, val)
                    for t, typ, code, val in items)


def press(t: float, held: float = 0.1, code: int = KEY_PLAYPAUSE) -> list[tuple[float, int, int, int]]:
    return [(t, EV_KEY, code, 1), (t, 0, 0, 0), (t + held, EV_KEY, code, 0), (t + held, 0, 0, 0)]


def test_media_events_parse_and_keep_a_partial_event():
    data = events(*press(10.25))
    evs, rest = parse_events(data + data[:7])
    assert [(e.type, e.code, e.value) for e in evs] == [(1, 164, 1), (0, 0, 0), (1, 164, 0), (0, 0, 0)]
    assert evs[0].t == pytest.approx(10.25) and rest == data[:7]


def test_media_gestures():
    g = Gestures(double_s=0.4, long_s=0.8)
    feed = lambda data: [a for e in parse_events(data)[0] for a in g.feed(e)]  # noqa: E731
    assert feed(events(*press(1.0))) == []  # might become a double press
    assert g.tick(1.3) == [] and g.tick(1.6) == ["repeat"]
    assert feed(events(*press(5.0), *press(5.3))) == ["around"]
    assert g.tick(9.0) == []
    # held: auto-repeat events while down → mute once, nothing on release
    assert feed(events((20.0, EV_KEY, KEY_PLAYPAUSE, 1), (20.5, EV_KEY, KEY_PLAYPAUSE, 2),
                       (20.9, EV_KEY, KEY_PLAYPAUSE, 2), (21.0, EV_KEY, KEY_PLAYPAUSE, 2),
                       (21.2, EV_KEY, KEY_PLAYPAUSE, 0))) == ["toggle_mute"]
    assert feed(events(*press(30.0, code=KEY_NEXTSONG))) == ["around"]
    assert feed(events((40.0, 4, 4, 458989))) == []  # EV_MSC scan codes are ignored


def test_media_button_runs_the_actions(rig):
    controls, _, tts, _, _, _, _ = rig
    button = MediaButton(controls, [])
    assert not button.start()  # no device: nothing runs
    button.handle(parse_events(events((1.0, EV_KEY, KEY_PLAYPAUSE, 1), (2.0, EV_KEY, KEY_PLAYPAUSE, 0)))[0])
    assert controls.state().muted and button.actions == ["toggle_mute"]
    button.handle(parse_events(events(*press(5.0), *press(5.2)))[0])
    assert tts.said[-1][0] == "Nothing tracked around you."


def test_keys_from_a_stream(rig):
    controls, speaker, tts, _, _, _, _ = rig
    speaker.announce(alert(), Decision(True, False, "speak"), 1.0)
    reader = KeyReader(controls, io.StringIO("x"))
    assert not reader.start()  # not a TTY: the terminal is left alone
    results = reader.feed_stream(io.StringIO("rmVe+ ?"))
    assert [r.action for r in results] == ["repeat", "mute", "verbosity", "earcons", "rate", "around"]
    st = controls.state()
    assert st.muted and st.verbosity == "captions" and not st.earcons and st.rate_wpm == 210
    assert tts.said[1][0] == alert().text and reader.pressed == 6


def test_a_taken_port_is_a_one_line_user_error(rig):
    from ego360.core.errors import UserError

    first = ControlServer(Router())
    try:
        with pytest.raises(UserError, match="choose another --control-port"):
            ControlServer(Router(), port=first.port)
    finally:
        first.close()


def test_generated_tokens_never_start_with_a_dash_and_dash_tokens_parse_with_equals():
    """A printed token is pasted into `--control-token TOKEN` on a later run, where argparse takes "-…"
    for an option (a browser test once drew such a token and the replay exited 2). One raw URL-safe token
    in 64 starts with "-", so 2000 draws would almost surely hit one without the guard."""
    from ego360.runtime.control.http_api import new_token
    from ego360.tools.cli import build_parser

    tokens = [new_token() for _ in range(2000)]
    assert not any(t.startswith("-") for t in tokens) and len(set(tokens)) == 2000
    args = build_parser().parse_args(["replay", "clip.mp4", "--out", "o", "--control-token=-dCBopT6Q"])
    assert args.control_token == "-dCBopT6Q"
