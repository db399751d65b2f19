"""The names the event contract gives a ticket's attributes, holder roles, KPI dimensions and
survey items: defined once here, read by the engine, the policy model and the generators.

Plain tuples (no pydantic): `engine/` imports them without the models. The models that carry the
same names as fields (`events.Survey`, `outputs.Responsible`, `outputs.KpiSnapshot.dimension`)
are tied to these by tests/schemas/test_attributes.py.
"""

from __future__ import annotations

from typing import Literal, get_args

# Who holds a ticket, in the order of `Holder` tuples, `responsible` and `attribution` entries.
HOLDER_ROLES = ("agent", "supervisor", "team", "department")

# Ticket attributes: the fields an event may set that evaluation reads (`when` selectors name
# them; `attributes.<name>` adds the source system's labels). The order is that of a ticket's
# stored history (`engine.history.KEPT_FIELDS`): it is part of stored bytes, do not reorder.
TICKET_ATTRS = (
    "priority",
    "category",
    "channel",
    "product_line",
    "team",
    "agent",
    "supervisor",
    "department",
    "status",
)

# KPI dimensions (besides `overall`), in the order of the snapshots and of `Dims` tuples.
Dimension = Literal["team", "agent", "priority", "channel", "category", "product_line"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)

# The seven survey scores (1-5), in the order of `events.Survey` and of the KPI survey code.
SURVEY_ITEMS = (
    "responsiveness",
    "problem_solving",
    "professionalism",
    "patience",
    "proactive",
    "overall",
    "recommend",
)
