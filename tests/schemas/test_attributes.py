"""The models that carry ticket attributes, holder roles, KPI dimensions and survey items as
fields name exactly the tuples of `schemas.attributes` (their one definition), in order."""

from __future__ import annotations

from typing import get_args

from schemas.attributes import DIMENSIONS, HOLDER_ROLES, SURVEY_ITEMS, TICKET_ATTRS
from schemas.events import Created, Survey
from schemas.outputs import KpiSnapshot, Responsible


def test_survey_scores_are_the_survey_items() -> None:
    scored = [n for n in Survey.model_fields if n not in ("comment", "invalid_reason")]
    assert tuple(scored) == SURVEY_ITEMS


def test_responsible_names_the_holder_roles() -> None:
    assert tuple(Responsible.model_fields) == HOLDER_ROLES


def test_snapshot_dimensions_are_overall_and_the_dimensions() -> None:
    assert get_args(KpiSnapshot.model_fields["dimension"].annotation) == ("overall", *DIMENSIONS)


def test_every_ticket_attribute_but_status_is_a_field_of_created() -> None:
    # `status` is set by status_changed events and by the policy's status_on, not by `created`.
    assert set(TICKET_ATTRS) - {"status"} <= set(Created.model_fields)
    assert set(DIMENSIONS) <= set(TICKET_ATTRS)
