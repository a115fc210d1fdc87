"""JSON Schema of a flow file, for editors (yaml-language-server) and tools."""

from __future__ import annotations

from typing import Any

from . import model
from .model import NODE_KINDS, Flow


def flow_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a flow file."""
    schema = Flow.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/ivr/ivr/flow.schema.json"
    schema["title"] = "IVR flow"
    node = schema.get("$defs", {}).get("Node")
    if node is not None:
        # Exactly one kind key per node, of the kinds this version runs: a reserved kind is refused
        # by validate, so an editor must not accept it either.
        kinds = [k for k in NODE_KINDS if k not in model.RESERVED_KINDS]
        for k in model.RESERVED_KINDS:
            node.get("properties", {}).pop(k, None)
        node["oneOf"] = [{"required": [k]} for k in kinds]
        node["description"] = "A node: exactly one of " + ", ".join(kinds) + "."
    return schema
