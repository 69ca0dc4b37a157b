"""Keep and grow customers: churn risk with reasons, value at risk, next-best offers, look-alikes, survival."""

from __future__ import annotations

from heedful.retain.atrisk import AtRiskResult, at_risk_customers, suggested_action, time_split_evaluation
from heedful.retain.calibration import Calibrator
from heedful.retain.churn import ChurnModel, binary_target, cv_folds
from heedful.retain.encoding import FeatureEncoder
from heedful.retain.features import churn_labels, retail_churn_dataset, retail_features
from heedful.retain.leakage import find_leaks
from heedful.retain.lookalike import LookalikeModel, best_customers, trait_columns
from heedful.retain.offers import (
    ItemItemRecommender,
    PopularityRecommender,
    PurchaseHistory,
    SVDRecommender,
    evaluate_offers,
    explain_offers,
    next_best_offers,
)
from heedful.retain.reasons import reason_text
from heedful.retain.survival import cox_hazard_ratios, kaplan_meier_by_segment, retail_durations

__all__ = [
    "AtRiskResult",
    "Calibrator",
    "ChurnModel",
    "FeatureEncoder",
    "ItemItemRecommender",
    "LookalikeModel",
    "PopularityRecommender",
    "PurchaseHistory",
    "SVDRecommender",
    "at_risk_customers",
    "best_customers",
    "binary_target",
    "churn_labels",
    "cox_hazard_ratios",
    "cv_folds",
    "evaluate_offers",
    "explain_offers",
    "find_leaks",
    "kaplan_meier_by_segment",
    "next_best_offers",
    "reason_text",
    "retail_churn_dataset",
    "retail_durations",
    "retail_features",
    "suggested_action",
    "time_split_evaluation",
    "trait_columns",
]
