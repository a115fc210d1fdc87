"""The served side of an audio directory: which files are prompts, their ETags and descriptions.

Only the two kinds of files the prompt layer writes are served: rendered
prompts (``tts/<key>.wav``) and converted recordings
(``recorded/.converted/<flow>/<node>.wav``), plus their raw mu-law twins
(``.ulaw``); :meth:`AudioFiles.path` is that rule. No Flask here: the
``/audio/`` blueprint (:mod:`ivr.web.audio`) serves what this finds.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path
from typing import Any, Optional

from ..flow.registry import FlowSet
from ..prompts.cache import PromptCache

_TTS = re.compile(r"^tts/([0-9a-f]{32})\.(wav|ulaw)$")
_RECORDED = re.compile(r"^recorded/\.converted/([A-Za-z0-9_-][A-Za-z0-9_.-]*)/([A-Za-z0-9_][A-Za-z0-9_.-]*)\.(wav|ulaw)$")
MIMETYPES = {"wav": "audio/wav", "ulaw": "audio/basic"}


class AudioFiles:
    """The served side of an audio directory: files, ETags, descriptions."""

    def __init__(self, cache: PromptCache, flows: Optional[FlowSet] = None) -> None:
        self.cache = cache
        self.flows = flows
        self.root = cache.audio_dir.resolve()
        self._etags: dict[str, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    def path(self, relpath: str) -> Optional[Path]:
        """The file for a URL path, if it is one we serve and it exists."""
        if not (_TTS.match(relpath) or _RECORDED.match(relpath)) or ".." in relpath.split("/"):
            return None
        p = (self.root / relpath).resolve()
        if not p.is_relative_to(self.root) or not p.is_file():
            return None
        return p

    def etag(self, path: Path) -> str:
        """Content hash of a file, recomputed only when its size or mtime moves."""
        st = path.stat()
        key = str(path)
        with self._lock:
            hit = self._etags.get(key)
            if hit and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
                return hit[2]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
        with self._lock:
            if len(self._etags) > 20_000:
                self._etags.clear()
            self._etags[key] = (st.st_mtime_ns, st.st_size, digest)
        return digest

    def describe(self, relpath: str) -> Optional[dict[str, Any]]:
        """What a served file says, for ``<url>.json``."""
        path = self.path(relpath)
        if path is None:
            return None
        m = _TTS.match(relpath)
        if m:
            entry = self.cache.manifest().get(m.group(1))
            if entry is None:
                return None
            return {"text": entry.get("text"), "duration_s": entry.get("duration_s"), "source": "tts",
                    "language": entry.get("language"), "voice": entry.get("voice"), "rate": entry.get("rate"),
                    "voice_id": entry.get("voice_id"), "etag": self.etag(path)}
        m = _RECORDED.match(relpath)
        assert m is not None
        flow_id, node_id = m.group(1), m.group(2)
        meta: dict[str, Any] = {}
        try:
            meta = json.loads(path.with_suffix(".json").read_text("utf-8"))
        except (OSError, ValueError):
            pass
        return {"text": self.node_text(flow_id, node_id), "duration_s": meta.get("duration_s"),
                "source": "recorded", "flow": flow_id, "node": node_id, "recording": meta.get("source"), "etag": self.etag(path)}

    def node_text(self, flow_id: str, node_id: str) -> Optional[str]:
        """The words a recording stands for (the node's own text in the flow)."""
        flow = self.flows.get(flow_id) if self.flows is not None else None
        node = flow.nodes.get(node_id) if flow is not None else None
        if node is None:
            return None
        spec = node.menu or node.ask
        if spec is not None:
            return spec.prompt
        return node.say or node.hangup or (node.transfer.say if node.transfer else None)
