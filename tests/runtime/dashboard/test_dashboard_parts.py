"""The dashboard's parts without a browser: each alert's sound is what the sinks got (earcon + words, the
replaced words under the first earcon), the frame hand-off never blocks the pipeline and keeps only the
newest frame, masks are drawn in their role's colour, and every dashboard route needs the token."""

from __future__ import annotations

import io
import threading
import time
import urllib.error
import urllib.request
import wave
from pathlib import Path

import cv2
import numpy as np
import pytest

from ego360.core.config import AudioConfig, Config, ControlConfig, TTSConfig
from ego360.core.packets import Alert, Box, EntityUpdate, FramePacket, Track, TriggerResult, Work
from ego360.runtime.audio.policy import Decision
from ego360.runtime.audio.sinks import open_sink
from ego360.runtime.control.http_api import ControlServer, Router
from ego360.runtime.dashboard import Dashboard, dashboard_config
from ego360.runtime.dashboard.alert_log import AlertLog, TappedSpeaker
from ego360.runtime.dashboard.feed import events
from ego360.runtime.dashboard.frames import FrameFeed
from ego360.runtime.dashboard.routes import dashboard_routes
from ego360.runtime.services.annotated_video import ROLE_COLOURS

SR = 16000


class LaterTTS:
    """Answers each text when `release()` is called (so a test can replace words before they are
    "synthesised"), phrase by phrase like the TTS worker: the place phrase before ": " first, then the rest;
    each phrase 0.25 s of a tone whose pitch depends on its words."""

    def __init__(self) -> None:
        self._cfg = TTSConfig(rate_wpm=190)
        self.stats = None
        self.waiting: list[tuple[str, object]] = []

    def submit(self, text, callback=None):
        self.waiting.append((text, callback))

    def release(self) -> None:
        while self.waiting:
            text, cb = self.waiting.pop(0)
            phrases = text.split(": ", 1)
            for k, words in enumerate(phrases):
                hz = 200 + 10 * (sum(map(ord, words)) % 40)
                cb((0.2 * np.sin(2 * np.pi * hz * np.arange(int(0.25 * SR)) / SR)).astype(np.float32),
                   k == len(phrases) - 1)

    def close(self) -> None:
        self.release()


def wav_pcm(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, SR)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)


def alert(entity: int, text: str, priority: int = 2, t: float = 1.0, bearing: float = -90.0) -> Alert:
    return Alert(10, t, time.monotonic_ns(), entity, "perpetrator", bearing, 9, priority, text)


@pytest.fixture
def tapped(tmp_path: Path):
    cfg = AudioConfig(sink="file", sample_rate=SR, earcon_ms=120, spatial="pan")
    log, tts = AlertLog(SR), LaterTTS()
    out = open_sink(cfg, tmp_path / "alerts.wav")
    return TappedSpeaker(cfg, TTSConfig(), out, log, tts=tts), log, tts, out.file_sink


def test_each_alerts_sound_is_what_the_sinks_got(tapped):
    speaker, log, tts, sink = tapped
    speak = Decision(True, False, "speak")
    speaker.announce(alert(1, "On your left, 9 o'clock: person approaching."), speak, 1.0)
    tts.release()
    speaker.announce(alert(2, "Behind you, 6 o'clock: person crossing.", t=3.0, bearing=178.0), speak, 3.0)
    speaker.announce(alert(3, "ignored", t=4.0), Decision(False, False, "cooldown"), 4.0)  # not spoken: not logged
    tts.release()
    speaker.announce(alert(1, "On your left: person approaching."), speak, 1.5)  # same entity: its own sound only
    tts.release()
    entries = log.since(0)
    assert [e.alert.entity_id for e in entries] == [1, 2, 1] and [e.id for e in entries] == [1, 2, 3]
    heard = np.round(np.clip(sink.render(), -1, 1) * 32767).astype("<i2")
    for e in entries[:2]:
        served = wav_pcm(log.wav(e.id))
        earcon = int(0.120 * SR)
        assert len(served) == earcon + 2 * int(0.25 * SR)  # the earcon and both phrases
        at = int(round(e.alert.video_t * SR))
        np.testing.assert_array_equal(served, heard[at:at + len(served)])  # earcon, then the words right after
    left, back = wav_pcm(log.wav(1)), wav_pcm(log.wav(2))
    assert np.abs(left[:, 0]).sum() > 2 * np.abs(left[:, 1]).sum()  # 9 o'clock: louder on the left
    assert abs(np.abs(back[:, 0]).sum() / np.abs(back[:, 1]).sum() - 1) < 0.2
    assert log.wav(99) is None and entries[0].to_json()["has_audio"] and entries[0].latency_ms >= 0


def test_replaced_words_keep_the_first_earcon(tapped):
    speaker, log, tts, sink = tapped
    speaker.announce(alert(1, "On your left, 9 o'clock: person approaching."), Decision(True, False, "speak"), 1.0)
    speaker.announce(alert(1, "On your left, 9 o'clock: person approaching fast.", priority=3),
                     Decision(True, False, "replace", replace=True), 1.1)
    tts.release()
    first, second = log.since(0)
    assert len(first.sound) == 1 and len(second.sound) == 3  # the first words were never played
    served = wav_pcm(log.wav(second.id))
    np.testing.assert_array_equal(served[: int(0.12 * SR)], first.sound[0])  # one earcon, as heard
    heard = np.round(np.clip(sink.render(), -1, 1) * 32767).astype("<i2")
    np.testing.assert_array_equal(served, heard[SR: SR + len(served)])


def test_without_earcons_the_words_are_the_sound_and_a_repeat_is_not_mixed_in(tapped):
    speaker, log, tts, sink = tapped
    speaker.earcons = False
    speaker.announce(alert(1, "On your left, 9 o'clock: person approaching."), Decision(True, False, "speak"), 2.0)
    tts.release()
    (entry,) = log.since(0)
    served = wav_pcm(log.wav(entry.id))
    assert len(served) == 2 * int(0.25 * SR)
    heard = np.round(np.clip(sink.render(), -1, 1) * 32767).astype("<i2")
    np.testing.assert_array_equal(served, heard[2 * SR: 2 * SR + len(served)])
    speaker.earcons = True
    speaker.say(speaker.last_alert, 5.0, earcon=True)  # the wearer's "repeat": heard again, not part of the alert
    tts.release()
    np.testing.assert_array_equal(wav_pcm(log.wav(entry.id)), served)
    assert len(log.since(0)) == 1


def work(i: int, image: np.ndarray, tracks: tuple[Track, ...] = ()) -> Work:
    packet = FramePacket(i, i / 30, time.monotonic_ns(), image)
    return Work(packet, TriggerResult(i, 0.9, None, "approach", "onset"),
                EntityUpdate(i, tracks, (), (), ()) if tracks else None)


def test_frames_hand_off_never_blocks_and_keeps_the_newest():
    feed = FrameFeed(width=480, fps=4.0)  # the encoder is not started: the pipeline must not wait for it
    image = np.zeros((480, 960, 3), np.uint8)
    t0 = time.perf_counter()
    for i in range(200):
        feed.offer(work(i, image))
    assert time.perf_counter() - t0 < 0.5
    assert feed.offered == 200 and feed.dropped == 199  # one slot: only the newest waits
    feed.start()
    jpeg = feed.wait_newer(0, timeout=10)
    assert jpeg is not None and jpeg.frame_index == 199 and jpeg.seq == 1
    feed.close()


def test_masks_are_drawn_in_their_roles_colour():
    feed = FrameFeed(width=480, fps=30.0).start()
    image = np.full((480, 960, 3), 60, np.uint8)
    tracks = []
    for k, (role, x0) in enumerate((("perpetrator", 100), ("victim", 400), ("related", 700))):
        mask = np.zeros((480, 960), bool)
        mask[200:300, x0:x0 + 100] = True
        tracks.append(Track(k + 1, 0, role, mask, Box(x0, 200, x0 + 100, 300), 0.0, 0.0))
    feed.offer(work(0, image, tuple(tracks)))
    jpeg = feed.wait_newer(0, timeout=10)
    feed.close()
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg.data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert rgb.shape == (240, 480, 3)
    for role, x0 in (("perpetrator", 100), ("victim", 400), ("related", 700)):
        got = rgb[125:145, x0 // 2 + 15: x0 // 2 + 35].reshape(-1, 3).mean(0)
        want = 0.45 * 60 + 0.55 * np.array(ROLE_COLOURS[role])
        assert np.abs(got - want).max() < 12, (role, got, want)


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"X-Ego360-Token": token} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read() if "event-stream" not in resp.headers["Content-Type"] else resp.read(64)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_every_route_needs_the_token_and_the_feed_streams(tapped):
    cfg = dashboard_config(Config())
    assert cfg.control.port == 0 and dashboard_config(cfg) is cfg
    dash = Dashboard(Config(audio=AudioConfig(sample_rate=SR), control=ControlConfig(port=0)), live=True)
    dash.alerts = tapped[1]
    server = ControlServer(dashboard_routes(Router(), dash), token="tok").start()
    try:
        for path in ("/dash/", "/dash", "/dash/index.html", "/dash/dashboard.js", "/dash/dashboard.css",
                     "/dash/events", "/dash/frame.jpg", "/dash/alerts", "/dash/alert/1.wav"):
            assert _get(server.url + path)[0] == 403, path
        assert _get(server.url + "/dash/", "tok")[0] == 200
        assert _get(server.url + "/dash/../session.py", "tok")[0] == 404
        assert _get(server.url + "/dash/frame.jpg", "tok")[0] == 204  # nothing encoded yet
        tapped[0].announce(alert(1, "On your left: person approaching."), Decision(True, False, "speak"), 1.0)
        tapped[2].release()
        assert _get(server.url + "/dash/alert/1.wav", "tok")[0] == 200
        dash.frames.offer(work(5, np.zeros((240, 480, 3), np.uint8)))
        assert dash.frames.wait_newer(0, 10) is not None and _get(server.url + "/dash/frame.jpg", "tok")[0] == 200
        chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: chunks.extend(events(dash, tick_s=0.02)), daemon=True)
        reader.start()
        deadline = time.monotonic() + 5
        while b"event: alert" not in b"".join(chunks) and time.monotonic() < deadline:
            time.sleep(0.02)
        dash.close()
        reader.join(5)
        text = b"".join(chunks).decode()
        for name in ("hello", "frame", "alert", "entities", "stats", "end"):
            assert f"event: {name}\n" in text, name
        assert '"text":"On your left: person approaching."' in text and dash.clients == 0
    finally:
        server.close()
        dash.close()
