"""Surveys: definitions, collection logic, and analysis (NPS/CSAT/CES, key drivers, MaxDiff, conjoint, pricing).

Everything here is pure: tables in, fitted models or tables out. Store reads and writes for surveys
live in `heedful.store.surveys_repo`; the respondent pages in `heedful.web.surveys`.
"""

from __future__ import annotations

from heedful.surveys.conjoint import Conjoint, cbc_design
from heedful.surveys.definition import SurveyDefinition, parse_survey
from heedful.surveys.drivers import KeyDrivers
from heedful.surveys.maxdiff import MaxDiff, maxdiff_design
from heedful.surveys.nps import CustomerEffortScore, CustomerSatisfaction, NetPromoterScore
from heedful.surveys.results import survey_results
from heedful.surveys.vanwestendorp import VanWestendorp

__all__ = [
    "Conjoint",
    "CustomerEffortScore",
    "CustomerSatisfaction",
    "KeyDrivers",
    "MaxDiff",
    "NetPromoterScore",
    "SurveyDefinition",
    "VanWestendorp",
    "cbc_design",
    "maxdiff_design",
    "parse_survey",
    "survey_results",
]
