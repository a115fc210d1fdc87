"""Serve an app in its own process, for tests whose Twilio-side peer must not share our GIL.

``python -m tests.web.live_server '<config json>'`` prints ``PORT <n>`` once
listening and serves until killed. A freshly started server is exactly what a
deploy gives: nothing loaded, nothing warmed.
"""

from __future__ import annotations

import json
import sys

from werkzeug.serving import make_server


def main() -> None:
    from ivr.web import create_app

    app = create_app(json.loads(sys.argv[1]))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
