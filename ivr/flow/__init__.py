"""Flow language: loading, validation, lint and the typed model."""

from .loader import LoadedFlow, flow_files, load_flow, load_flow_text
from .model import Flow, Node
from .registry import FlowSet

__all__ = ["Flow", "FlowSet", "LoadedFlow", "Node", "flow_files", "load_flow", "load_flow_text"]
