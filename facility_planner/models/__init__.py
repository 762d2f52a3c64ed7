"""Location models as sparse MILPs over labelled matrices (never geometry), solved by HiGHS or any PuLP solver."""

from .base import SideConstraints, Solution
from .coverage import max_cover, partial_cover, set_cover
from .median import p_center, p_median

__all__ = ["SideConstraints", "Solution", "max_cover", "p_center", "p_median", "partial_cover", "set_cover"]
