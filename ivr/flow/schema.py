"""JSON Schema of a flow file, for editors (yaml-language-server) and tools."""

from __future__ import annotations

from typing import Any

from .model import NODE_KINDS, Flow


def flow_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a flow file."""
    schema = Flow.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/ivr/ivr/flow.schema.json"
    schema["title"] = "IVR flow"
    node = schema.get("$defs", {}).get("Node")
    if node is not None:
        # Exactly one kind key per node.
        node["oneOf"] = [{"required": [k]} for k in NODE_KINDS]
        node["description"] = "A node: exactly one of " + ", ".join(NODE_KINDS) + "."
    return schema
