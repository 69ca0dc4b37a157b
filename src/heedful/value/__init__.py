"""Customer value: transaction summaries, BTYD models (BG/NBD, MBG/NBD, Pareto/NBD), Gamma-Gamma spend,
CLV, RFM segments and acquisition cohorts. Pure: takes Ibis tables / DataFrames, returns tables and models."""

from __future__ import annotations

from heedful.value.bgnbd import BetaGeo
from heedful.value.clv import clv_table, discounted_clv, fit_clv_models
from heedful.value.cohorts import CohortResult, cohorts
from heedful.value.gammagamma import GammaGamma
from heedful.value.holdout import calibration_vs_holdout, evaluate_holdout, tracking_curve
from heedful.value.mbgnbd import ModifiedBetaGeo
from heedful.value.paretonbd import ParetoNBD
from heedful.value.rfm import RFMResult, rfm, rfm_from_summary
from heedful.value.summary import Columns, repeat_transactions_by_day, transaction_summary

MODELS = {"bgnbd": BetaGeo, "mbgnbd": ModifiedBetaGeo, "pareto-nbd": ParetoNBD, "gamma-gamma": GammaGamma}

__all__ = [
    "MODELS",
    "BetaGeo",
    "CohortResult",
    "Columns",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "RFMResult",
    "calibration_vs_holdout",
    "clv_table",
    "cohorts",
    "discounted_clv",
    "evaluate_holdout",
    "fit_clv_models",
    "repeat_transactions_by_day",
    "rfm",
    "rfm_from_summary",
    "tracking_curve",
    "transaction_summary",
]
