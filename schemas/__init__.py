"""pydantic v2 models of every message on every topic; `schemas/json/` holds their JSON Schema."""
