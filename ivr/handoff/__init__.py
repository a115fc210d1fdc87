"""Live-agent handoff services: the CRM, the dialer, transcription, records and agent links.

The pure policy of a handoff (routing rules, opening hours, the summary) is
engine policy and lives in :mod:`ivr.engine`; the web layer renders the
queue, callback and voicemail dialogues (:mod:`ivr.web`). What is here does
IO or holds secrets, each part behind a small protocol with a real default.
"""

from .callbacks import Window, normalize_number, spoken_number, window_for_key
from .crm import CrmWebhook, CustomerDirectory, HttpDirectory, StoreDirectory
from .dialer import Dialer
from .links import agent_path, link_valid, report_link_valid, report_path
from .records import HandoffRecords
from .service import Handoff, HandoffSettings
from .transcribe import Transcriber, fetch_recording

__all__ = ["CrmWebhook", "CustomerDirectory", "Dialer", "Handoff", "HandoffRecords", "HandoffSettings",
           "HttpDirectory", "StoreDirectory", "Transcriber", "Window", "agent_path", "fetch_recording",
           "link_valid", "normalize_number", "report_link_valid", "report_path", "spoken_number", "window_for_key"]
