"""The dashboard in a real browser (headless Chromium over DevTools) against `ego360 replay --dashboard` of a
generated scenario (threaten: a person approaching from the wearer's left), audio.sink=file:

- the page and every dashboard route need the control token (403 without it, in the browser too);
- the stream updates (two frames with different pixels reach the page);
- the alert reaches the log (with its sound) and the radar within a second of being spoken;
- a click on "Mute" reaches the runtime (the control API's state, and the run's summary);
- the page's alerts are the run's alerts (events.jsonl), and each alert's WAV is the sound in alerts.wav —
  kept by the page, so it still plays after the run has ended.

EGO360_DASHBOARD_SCREENSHOT=PATH keeps the screenshot taken with the alert on the page, and PATH.json the
observed times (for the closing note).
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest

from ego360.runtime.services.events_log import read_events
from ego360.tools.cli import main

SPOKEN_TO_SHOWN_MS = 1000.0
CUE_S = 0.25  # a control's confirmation cue may overlap the alert's sound in alerts.wav


def wait_for_dashboard(base: str, token: str, proc: subprocess.Popen, log: Path, poll_s: float,
                       timeout_s: float = 120.0) -> None:
    """Until /dash/ answers 200 (its routes are added once the control server is up); the run's log
    is the failure message when the process dies or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if get(f"{base}/dash/", token)[0] == 200:
                return
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(poll_s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, token: str | None = None) -> tuple[int, bytes, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def read_wav(data: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(data)) as w:
        assert w.getnchannels() == 2 and w.getsampwidth() == 2
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)


def found_in(needle: np.ndarray, hay: np.ndarray, min_score: float = 0.99) -> int | None:
    """Sample offset where `needle` (left channel) sits in `hay` — the best normalised match, if it is one."""
    from scipy.signal import correlate

    n, h = needle[:, 0].astype(np.float64), hay[:, 0].astype(np.float64)
    corr = correlate(h, n, mode="valid", method="fft")
    window = np.convolve(h * h, np.ones(len(n)), mode="valid")  # energy of hay under each placement
    loud = window > 0.25 * float(n @ n)  # near-silence would divide FFT round-off by ~0
    score = np.where(loud, corr / np.sqrt(np.maximum(window, 1e-9) * float(n @ n)), 0.0)
    best = int(np.argmax(score))
    return best if score[best] > min_score else None


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("threaten")
    assert main(["scenario", "threaten", "--out", str(out), "--width", "960", "--height", "480",
                 "--fps", "15", "--duration", "10"]) == 0
    return out / "clip.mp4"


@pytest.mark.timeout(420)
def test_dashboard_in_a_real_browser(chrome, clip: Path, tmp_path: Path):
    port, token = free_port(), secrets.token_urlsafe(12)
    base, out = f"http://127.0.0.1:{port}", tmp_path / "replay"
    cmd = [sys.executable, "-c", "import sys; from ego360.tools.cli import main; sys.exit(main(sys.argv[1:]))",
           "replay", str(clip), "--out", str(out), "--realtime", "--dashboard", "--control-port", str(port),
           f"--control-token={token}", "--set", "audio.sink=file", "--set", "output.annotated_video=false",
           "--set", "control.keys=false", "--set", "control.media_button=false"]
    log = (tmp_path / "replay.log").open("wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_dashboard(base, token, proc, tmp_path / "replay.log", poll_s=0.2)  # replay waits for the page

        for path in ("/dash/", "/dash/events", "/dash/frame.jpg", "/dash/alerts", "/dash/alert/1.wav",
                     "/dash/dashboard.js"):
            assert get(base + path)[0] == 403, path
            assert get(base + path, "not-the-token")[0] == 403, path
        status, body, ctype = get(f"{base}/dash/", token)
        assert status == 200 and ctype.startswith("text/html") and b"ego360" in body

        chrome.navigate(f"{base}/dash/")  # without the token the browser gets the refusal, not the page
        assert "missing or wrong token" in chrome.evaluate("document.body.innerText")
        assert chrome.evaluate("document.getElementById('radar') === null")

        chrome.navigate(f"{base}/dash/?token={token}")
        chrome.wait_for("window.dash && window.dash.connected", timeout=30)
        probe = """(() => { const d = window.dash, r = document.getElementById('radar');
            return {frames: d.frames, sums: [...new Set(d.frameSums)].length,
                    alerts: d.alerts.map(a => ({id: a.id, clock: a.clock, text: a.text, entity_id: a.entity_id,
                                                spoken: a.spoken_unix_ms, shown: a.received_ms, radar: a.radar_ms})),
                    radar: r.dataset.alerts, entities: r.dataset.entities}; })()"""
        deadline = time.monotonic() + 120
        while True:
            seen = chrome.evaluate(probe)
            if seen["sums"] >= 2 and seen["alerts"] and seen["alerts"][0]["radar"]:
                break
            assert proc.poll() is None and time.monotonic() < deadline, (seen, (tmp_path / "replay.log").read_text())
            time.sleep(0.1)

        first = seen["alerts"][0]
        assert first["shown"] - first["spoken"] <= SPOKEN_TO_SHOWN_MS, first  # in the log
        assert first["radar"] - first["spoken"] <= SPOKEN_TO_SHOWN_MS, first  # on the radar
        item = chrome.evaluate(f"(() => {{ const li = document.querySelector('#alerts li[data-id=\"{first['id']}\"]');"
                               " return li && [li.innerText, li.querySelector('audio').getAttribute('src')]; })()")
        assert first["text"] in item[0] and f"{first['clock']} o'clock" in item[0]
        assert item[1].startswith((f"/dash/alert/{first['id']}.wav?token=", "blob:"))  # kept once its words came

        assert get(f"{base}/api/state", token)[1] and not json.loads(get(f"{base}/api/state", token)[1])["muted"]
        chrome.click("#btn-mute")
        deadline = time.monotonic() + 10
        while not json.loads(get(f"{base}/api/state", token)[1])["muted"]:
            assert time.monotonic() < deadline, "the click on Mute never reached the runtime"
            time.sleep(0.05)
        chrome.wait_for("document.getElementById('state').dataset.muted === 'true'", timeout=5)

        shot = chrome.screenshot(tmp_path / "dashboard.png")
        if os.environ.get("EGO360_DASHBOARD_SCREENSHOT"):
            keep = chrome.screenshot(Path(os.environ["EGO360_DASHBOARD_SCREENSHOT"]))
            keep.with_suffix(".json").write_text(json.dumps(
                {"alert": first, "spoken_to_log_ms": first["shown"] - first["spoken"],
                 "spoken_to_radar_ms": first["radar"] - first["spoken"], "frames_loaded": seen["frames"],
                 "distinct_frames": seen["sums"]}, indent=1))
        assert shot.stat().st_size > 20_000

        deadline = time.monotonic() + 60
        while True:  # the earcon is there at once; the words once the TTS thread has them
            status, wav, ctype = get(f"{base}/dash/alert/{first['id']}.wav", token)
            assert status == 200 and ctype == "audio/wav"
            sr, served = read_wav(wav)
            if len(served) > int(0.5 * sr):
                break
            assert proc.poll() is None and time.monotonic() < deadline, "the alert's words never reached its WAV"
            time.sleep(0.1)

        assert proc.wait(180) == 0, (tmp_path / "replay.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()

    page_alerts = chrome.evaluate("window.dash.alerts.map(a => [a.entity_id, a.clock, a.text])")
    run_alerts = [[e["entity_id"], e["clock"], e["text"]] for e in read_events(out / "events.jsonl")
                  if e["type"] == "alert"]
    assert page_alerts == run_alerts and run_alerts
    summary = json.loads((out / "summary.json").read_text())
    assert summary["control"]["actions"].get("mute") == 1
    assert chrome.evaluate("window.dash.ended")  # the page was told the run ended

    # the run is over and its server gone: the page still holds the alert's sound (a blob it kept)
    kept = chrome.evaluate(f"""(async () => {{
        const a = document.querySelector('#alerts li[data-id="{first['id']}"] audio');
        const u = new Uint8Array(await (await fetch(a.src)).arrayBuffer());
        let s = ''; for (let i = 0; i < u.length; i += 1) s += String.fromCharCode(u[i]);
        return [a.src.slice(0, 5), btoa(s)]; }})()""")
    assert kept[0] == "blob:"
    sr_kept, kept_pcm = read_wav(base64.b64decode(kept[1]))
    assert sr_kept == sr and len(kept_pcm) >= len(served)
    served = kept_pcm

    # the alert's sound is the one in alerts.wav: earcon and words at the alert's time, sample for sample —
    # except where the mute's confirmation cue (clicked at once, ~0.1 s long) was mixed over it
    sr_file, heard = read_wav((out / "alerts.wav").read_bytes())
    assert sr == sr_file and len(served) > int(0.5 * sr)  # an earcon and words, not a click
    at = found_in(served, heard, min_score=0.9)
    assert at is not None, "the served sound is not in alerts.wav"
    alert_t = next(e["video_t"] for e in read_events(out / "events.jsonl") if e["type"] == "alert")
    assert -0.05 <= at / sr - alert_t <= 1.0
    differ = np.nonzero((heard[at:at + len(served)] != served).any(axis=1))[0]
    assert differ.size == 0 or differ[-1] - differ[0] <= CUE_S * sr, (differ[0] / sr, differ[-1] / sr)


def sse_events(url: str, until: set[str], timeout: float) -> dict[str, list[dict]]:
    """Read a Server-Sent Events stream until every event name in `until` was seen (or the stream ends)."""
    seen: dict[str, list[dict]] = {}
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        name = ""
        for raw in resp:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                seen.setdefault(name, []).append(json.loads(line[6:]))
                if until <= seen.keys():
                    break
    return seen


@pytest.mark.timeout(300)
def test_live_dashboard_feeds_frames_stats_and_state(clip: Path, tmp_path: Path):
    """`ego360 live --dashboard` (the clip paced as a camera, drop-oldest queues): the feed carries frames,
    per-stage latencies and the controls' state while it runs, and the run ends normally."""
    port, token = free_port(), secrets.token_urlsafe(12)
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-c", "import sys; from ego360.tools.cli import main; sys.exit(main(sys.argv[1:]))",
           "live", "--camera", str(clip), "--duration", "6", "--out", str(tmp_path / "live"), "--dashboard",
           "--control-port", str(port), f"--control-token={token}", "--set", "audio.sink=file",
           "--set", "control.keys=false", "--set", "control.media_button=false"]
    log = (tmp_path / "live.log").open("wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_dashboard(base, token, proc, tmp_path / "live.log", poll_s=0.1)
        seen = sse_events(f"{base}/dash/events?token={token}", {"hello", "frame", "stats", "state"}, timeout=60)
        assert seen["hello"][0]["live"] is True
        names = [s["name"] for s in seen["stats"][-1]["stages"]]
        assert names[0] == "decode" and "alerts" in names and "output" in names
        assert seen["state"][-1]["verbosity"] == "alerts"
        status, jpeg, ctype = get(f"{base}/dash/frame.jpg", token)
        assert status == 200 and ctype == "image/jpeg" and jpeg[:2] == b"\xff\xd8"
        assert proc.wait(120) == 0, (tmp_path / "live.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert "dashboard: http://127.0.0.1:" in (tmp_path / "live.log").read_text()
