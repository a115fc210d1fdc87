"""The baseline for the webhook benchmark: a bare Flask route returning fixed TwiML."""

from __future__ import annotations

from flask import Flask, Response

FIXED = ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/bare" input="dtmf" numDigits="1" '
         'timeout="5"><Say>Press 1.</Say></Gather><Redirect method="POST">/bare</Redirect></Response>')


def create_bare_app() -> Flask:
    app = Flask(__name__)

    @app.post("/bare")
    def bare() -> Response:
        return Response(FIXED, mimetype="text/xml")

    @app.get("/api/health")
    def health() -> Response:
        return Response("{}", mimetype="application/json")

    return app
