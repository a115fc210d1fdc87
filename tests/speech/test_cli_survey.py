"""`python -m ivr recognize` at a survey node: spoken scores through the question's own grammar."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ivr.speech.synth import synthesize, write_wav

ROOT = Path(__file__).resolve().parents[2]
FLOW = ROOT / "tests" / "calls" / "survey" / "flows" / "feedback.yaml"


def ivr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ivr", *args], capture_output=True, text=True, cwd=ROOT, timeout=180)


def test_recognize_hears_a_spoken_score_at_a_survey_question(tmp_path: Path) -> None:
    wav = tmp_path / "eight.wav"
    write_wav(wav, synthesize("eight", "flite:kal", lead_ms=400, trail_ms=400), 8000)
    proc = ivr("recognize", "--flow", str(FLOW), "--node", "rate", "--question", "nps", str(wav))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["match"] == 8 and "eight" in result["text"], result
    # The first question (csat, 1 to 5) has no "eight" to hear: never a score out of range.
    proc = ivr("recognize", "--flow", str(FLOW), "--node", "rate", str(wav))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["match"] in (None, 1, 2, 3, 4, 5)


def test_recognize_question_is_checked(tmp_path: Path) -> None:
    wav = tmp_path / "x.wav"
    write_wav(wav, synthesize("yes", "flite:kal", lead_ms=300, trail_ms=300), 8000)
    proc = ivr("recognize", "--flow", str(FLOW), "--node", "rate", "--question", "nope", str(wav))
    assert proc.returncode == 2 and "no question 'nope'" in proc.stderr
    proc = ivr("recognize", "--flow", str(FLOW), "--node", "main", "--question", "nps", str(wav))
    assert proc.returncode == 2 and "--question is for survey nodes" in proc.stderr
