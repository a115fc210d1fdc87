"""The media stream figures: reading them never changes them; a POST clears them."""

from __future__ import annotations

from ivr.web import parts
from tests.conftest import API_TOKEN

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


def test_get_only_reads_and_post_resets(make_app) -> None:
    app = make_app(media_streams=True)
    client = app.test_client()
    rt = parts(app).media
    rt.reply_ms.extend([120.0, 180.0])
    rt.early_ends, rt.unsure_early_ends = 3, 1
    first = client.get("/api/media/stats", headers=BEARER).json
    assert first["early_ends"] == 3 and first["reply_ms"] == client.get("/api/media/stats", headers=BEARER).json[
        "reply_ms"]
    refused = client.get("/api/media/stats?reset=1", headers=BEARER)
    assert refused.status_code == 400 and "POST /api/media/stats/reset" in refused.json["error"]
    assert client.get("/api/media/stats", headers=BEARER).json["early_ends"] == 3    # still there
    assert client.post("/api/media/stats/reset").status_code == 401                    # bearer token required
    cleared = client.post("/api/media/stats/reset", headers=BEARER)
    assert cleared.status_code == 200 and cleared.json["early_ends"] == 3               # the figures as they were
    after = client.get("/api/media/stats", headers=BEARER).json
    assert after["early_ends"] == 0 and after["unsure_early_ends"] == 0 and after["reply_ms"] != first["reply_ms"]
    assert cleared.json["unsure_early_ends"] == 1
