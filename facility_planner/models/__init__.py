"""Location models as sparse MILPs over labelled matrices (never geometry), solved by HiGHS or any PuLP solver."""

from .base import SideConstraints, Solution
from .capacity import capacitated_max_cover
from .coverage import max_cover, partial_cover, set_cover
from .equity import RulePrice, price_rule
from .median import p_center, p_median

__all__ = [
    "RulePrice",
    "SideConstraints",
    "Solution",
    "capacitated_max_cover",
    "max_cover",
    "p_center",
    "p_median",
    "partial_cover",
    "price_rule",
    "set_cover",
]
