"""Golden TwiML files: whole documents, pretty-printed so a reviewer can read them."""

from __future__ import annotations

import os
from pathlib import Path
from xml.dom import minidom

GOLDEN = Path(__file__).resolve().parent / "golden"


def pretty(xml: str) -> str:
    return minidom.parseString(xml.encode()).toprettyxml(indent="  ", encoding="utf-8").decode()


def assert_golden(name: str, xml: str) -> None:
    path = GOLDEN / f"{name}.xml"
    got = pretty(xml)
    if os.environ.get("IVR_UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"{path} differs; rerun with IVR_UPDATE_GOLDEN=1 if intended"
