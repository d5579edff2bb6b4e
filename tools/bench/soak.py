"""`ego360 bench soak`: `ego360 live` for a long time on a looping local stream, measured from outside.

A wearer runs ego360 for hours; what breaks then is not the first minute's latency but slow growth
(memory, threads, open files), latency that creeps, and outputs that are not finished when the run is
stopped. A scenario clip is looped by `ffmpeg -stream_loop -1 -re` as MPEG-4 in MPEG-TS to a local UDP
port; `ego360 live` runs as a child process so its RSS, threads and open files are read from /proc
(what an operator would see), and its alerts' capture→earcon latencies from its events.jsonl. The run
ends with SIGTERM (or SIGINT) and the outputs are checked: events.jsonl ends with its summary line,
alerts.wav's header matches its data, annotated.mp4 decodes. `--outage AT:S` stops the sender for S
seconds at AT (the camera unplugged and back); `--rate 2` sends frames twice as fast as the clip's
frame rate (the drop-oldest queues must keep capture→earcon bounded). Figures only, never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
# FFmpeg's UDP ring buffer, in 188-byte packets: 50 000 ≈ 9 MB, 10+ s of this stream. The ring is allocated
# at once but its pages become resident only as they are first written, so a large one (fifo_size=1000000,
# 184 MB) reads as steady RSS growth for the best part of an hour at this bit rate, until it wraps.
FIFO_PACKETS = 50_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=30.0, help="how long live runs (default 30)")
    p.add_argument("--scenario", default="stealing", help="scenario clip to loop (default stealing)")
    p.add_argument("--width", type=int, default=960, help="equirect width of the stream (default 960)")
    p.add_argument("--clip-seconds", type=float, default=20.0,
                   help="length of the looped clip (default 20: one event, then quiet until the loop)")
    p.add_argument("--rate", type=float, default=1.0, help="send at RATE × the clip's frame rate (default 1)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between samples (default 5)")
    p.add_argument("--signal", choices=("TERM", "INT"), default="TERM", help="how the run is ended (default TERM)")
    p.add_argument("--annotated", action="store_true", help="also write annotated.mp4 (live's default: off)")
    p.add_argument("--outage", action="append", default=[], metavar="AT:S",
                   help="stop the sender at AT s for S s (the camera unplugged and back); repeatable")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed on to ego360 live")
    p.add_argument("--out", default="reports/soak", help="report folder (default reports/soak)")
    p.add_argument("--name", default=None, help="run name (default soak-<width>-x<rate>-<minutes>m)")


@dataclass
class SoakRun:
    """What one soak measured; `ego360.tools.bench.soak_report` turns it into figures."""

    minutes: float
    width: int
    rate: float
    fps: float
    samples: list[dict] = field(default_factory=list)  # {"t", "rss_mb", "threads", "fds"}
    alerts: list[dict] = field(default_factory=list)  # {"t": seen at, "latency_ms", "clock", "text"}
    frames: list[tuple[float, int]] = field(default_factory=list)  # (t, frame lines so far)
    exit_code: int | None = None
    stop_s: float | None = None  # signal → exit
    outputs: dict = field(default_factory=dict)
    log_counts: dict[str, int] = field(default_factory=dict)
    summary: dict | None = None
    run_dir: str = ""
    log_path: str = ""  # the live child's stdout and stderr (a failing test shows it around a traceback)


def live_command() -> list[str]:
    exe = Path(sys.executable).with_name("ego360")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from ego360.tools.cli import main; main()"]


def prepare_clip(scenario: str, width: int, seconds: float, rate: float, cache: Path) -> tuple[Path, float]:
    """The scenario's clip (rendered once into `cache`), re-timed to `rate` × its fps; (clip, sent fps)."""
    from ego360.tools.cli import main
    from ego360.tools.scenario.gt import load_gt

    folder = cache / f"clip-{scenario}-{width}-{seconds:g}s"
    if not (folder / "gt.json").exists():
        rc = main(["scenario", scenario, "--out", str(folder), "--width", str(width), "--height", str(width // 2),
                   "--duration", str(seconds)])
        if rc != 0:
            raise RuntimeError(f"rendering scenario {scenario} failed ({rc})")
    fps = load_gt(folder / "gt.json").fps
    clip = folder / "clip.mp4"
    if rate == 1.0:
        return clip, fps
    fast = folder / f"clip-x{rate:g}.mp4"
    if not fast.exists():  # the same frames, presented rate × faster
        subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(clip), "-vf", f"setpts=PTS/{rate:g}",
                        "-r", f"{fps * rate:g}", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(fast)],
                       check=True)
    return fast, fps * rate


class Sender:
    """`ffmpeg -stream_loop -1 -re` of a clip to udp://127.0.0.1:port; `pause()` stops it, `resume()` restarts."""

    def __init__(self, clip: Path, port: int, fps: float) -> None:
        self.cmd = [FFMPEG, "-v", "error", "-stream_loop", "-1", "-re", "-i", str(clip), "-c:v", "mpeg4", "-q:v", "5",
                    "-g", str(max(1, round(fps))), "-an", "-muxdelay", "0", "-muxpreload", "0", "-f", "mpegts",
                    f"udp://127.0.0.1:{port}?pkt_size=1316"]
        self.proc: subprocess.Popen | None = None

    def resume(self) -> None:
        if self.proc is None:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def pause(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_sample(pid: int) -> dict | None:
    """RSS (MB), threads and open file descriptors of a process, from /proc (None once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        threads = len(os.listdir(f"/proc/{pid}/task"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return {"rss_mb": round(rss / 1024.0, 1), "threads": threads, "fds": fds}


class EventTail:
    """Reads the lines events.jsonl gained since the last call (the writer flushes whole lines)."""

    def __init__(self, path: Path) -> None:
        self.path, self._pos, self._rest, self.frames = path, 0, b"", 0

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            fh.seek(self._pos)
            data = self._rest + fh.read()
            self._pos = fh.tell()
        *lines, self._rest = data.split(b"\n")
        out = []
        for line in lines:
            if not line.strip():
                continue
            obj = json.loads(line)
            self.frames += obj.get("type") == "frame"
            out.append(obj)
        return out


def check_outputs(run_dir: Path, annotated: bool) -> dict:
    """Whether each output was finalised: events.jsonl ends with its summary line, alerts.wav's header
    says as many frames as the file holds, annotated.mp4 (when asked for) opens and decodes."""
    out: dict = {}
    events = run_dir / "events.jsonl"
    last = events.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1] if events.exists() else b""
    try:
        out["events_summary_line"] = json.loads(last).get("type") == "summary"
    except ValueError:
        out["events_summary_line"] = False
    wav = run_dir / "alerts.wav"
    try:
        with wave.open(str(wav)) as w:
            frames, width, channels, rate = w.getnframes(), w.getsampwidth(), w.getnchannels(), w.getframerate()
        out["wav_valid"] = wav.stat().st_size == 44 + frames * width * channels
        out["wav_seconds"] = round(frames / rate, 1)
    except (OSError, EOFError, wave.Error):
        out["wav_valid"] = False
    if annotated:
        out["annotated_frames"] = _count_video_frames(run_dir / "annotated.mp4")
        out["annotated_valid"] = out["annotated_frames"] > 0
    out["leftovers"] = sorted(p.name for p in run_dir.glob("*.partial.*")) + \
        sorted(p.name for p in run_dir.glob("*.video-only.*"))
    return out


def _count_video_frames(path: Path) -> int:
    import av

    try:
        with av.open(str(path)) as c:
            return sum(1 for _ in c.decode(video=0))
    except (OSError, av.error.FFmpegError):
        return 0


LOG_MARKERS = {"stream_lost": "stream lost", "reconnected": "reconnected on attempt",
               "audio_device_gone": "audio device gone", "write_failed": "failed (", "traceback": "Traceback"}


def soak(clip: Path, fps: float, run_dir: Path, minutes: float, *, interval: float = 5.0, sig: str = "TERM",
         annotated: bool = False, outages: list[tuple[float, float]] = (), sets: list[str] = (), width: int = 0,
         rate: float = 1.0, on_sample=None) -> SoakRun:
    """Stream `clip` in a loop, run `ego360 live` on it for `minutes`, sample it, stop it with `sig`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    port = free_udp_port()
    sender = Sender(clip, port, fps)
    sender.resume()
    time.sleep(1.0)  # joined mid-stream, as a wearer's camera that is already running
    url = f"udp://127.0.0.1:{port}?overrun_nonfatal=1&fifo_size={FIFO_PACKETS}"
    sets = ["audio.sink=file", "control.port=-1", f"output.annotated_video={str(annotated).lower()}", *sets]
    cmd = [*live_command(), "live", "--camera", url, "--out", str(run_dir / "live")]
    for s in sets:
        cmd += ["--set", s]
    log_path = run_dir / "live.log"
    result = SoakRun(minutes=minutes, width=width, rate=rate, fps=fps, run_dir=str(run_dir / "live"),
                     log_path=str(log_path))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log_fh:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=subprocess.STDOUT, env=env)
        tail = EventTail(run_dir / "live" / "events.jsonl")
        t0 = time.monotonic()
        pending = sorted(outages)
        paused_until = None
        try:
            while (t := time.monotonic() - t0) < minutes * 60 and proc.poll() is None:
                if pending and t >= pending[0][0] and paused_until is None:
                    sender.pause()
                    paused_until = t + pending.pop(0)[1]
                if paused_until is not None and t >= paused_until:
                    sender.resume()
                    paused_until = None
                sample = proc_sample(proc.pid)
                if sample is not None:
                    result.samples.append({"t": round(t, 2), **sample})
                for e in tail.read():
                    if e.get("type") == "alert":
                        result.alerts.append({"t": round(t, 2), "latency_ms": e["wall_latency_ms"],
                                              "clock": e["clock"], "text": e["text"]})
                result.frames.append((round(t, 2), tail.frames))
                if on_sample is not None and sample is not None:
                    on_sample(result)
                time.sleep(max(0.0, interval - (time.monotonic() - t0 - t)))
            t_sig = time.monotonic()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if sig == "TERM" else signal.SIGINT)
            try:
                result.exit_code = proc.wait(180)
            except subprocess.TimeoutExpired:
                proc.kill()
                result.exit_code = proc.wait(10)
            result.stop_s = round(time.monotonic() - t_sig, 2)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            sender.pause()
    for e in tail.read():
        if e.get("type") == "alert":
            result.alerts.append({"t": round(time.monotonic() - t0, 2), "latency_ms": e["wall_latency_ms"],
                                  "clock": e["clock"], "text": e["text"]})
        elif e.get("type") == "summary":
            result.summary = e
    text = log_path.read_text(errors="replace")
    result.log_counts = {k: text.count(v) for k, v in LOG_MARKERS.items()}
    result.outputs = check_outputs(run_dir / "live", annotated)
    return result


def _outages(specs: list[str]) -> list[tuple[float, float]]:
    out = []
    for spec in specs:
        at, _, seconds = spec.partition(":")
        try:
            out.append((float(at), float(seconds)))
        except ValueError:
            from ego360.core.errors import UserError

            raise UserError(f"--outage {spec!r}: use AT:SECONDS, e.g. --outage 120:5") from None
    return out


def run(args: argparse.Namespace) -> int:
    from ego360.tools.bench.soak_report import summarise, write_report

    name = args.name or f"soak-{args.width}-x{args.rate:g}-{args.minutes:g}m"
    out = Path(args.out)
    clip, fps = prepare_clip(args.scenario, args.width, args.clip_seconds, args.rate, Path("out/soak"))
    run_dir = Path("out/soak") / name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    print(f"soak: {name}: ego360 live on {clip} looped over UDP at {fps:g} fps for {args.minutes:g} min "
          f"(logs in {run_dir})", flush=True)

    def progress(r: SoakRun) -> None:
        s = r.samples[-1]
        if len(r.samples) % max(1, round(60 / args.interval)) == 0:
            print(f"  {s['t'] / 60:5.1f} min: RSS {s['rss_mb']} MB, {s['threads']} threads, {s['fds']} fds, "
                  f"{len(r.alerts)} alerts", flush=True)
        write_report(out / name, r, summarise(r), plot=False)  # a run cut short still leaves its figures

    result = soak(clip, fps, run_dir, args.minutes, interval=args.interval, sig=args.signal,
                  annotated=args.annotated, outages=_outages(args.outage), sets=args.set, width=args.width,
                  rate=args.rate, on_sample=progress)
    figures = summarise(result)
    md = write_report(out / name, result, figures)
    print(md.read_text())
    return 0
