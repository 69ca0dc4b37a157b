"""Advocacy: rank advocates, referral rules and fraud checks, peer matching and its measured effect."""

from heedful.advocacy.advocates import AdvocateWeights, rank_advocates
from heedful.advocacy.effect import assign_arms, in_holdout, measure_outcomes, programme_effect
from heedful.advocacy.fraud import duplicate_accounts, flag_referrals
from heedful.advocacy.matching import MatchResult, MatchWeights, match_peers
from heedful.advocacy.rules import ProgrammeRules, expected_rewards, parse_rules, reconcile

__all__ = [
    "AdvocateWeights",
    "MatchResult",
    "MatchWeights",
    "ProgrammeRules",
    "assign_arms",
    "duplicate_accounts",
    "expected_rewards",
    "flag_referrals",
    "in_holdout",
    "match_peers",
    "measure_outcomes",
    "parse_rules",
    "programme_effect",
    "rank_advocates",
    "reconcile",
]
