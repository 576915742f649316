"""The paper's scaling claim on any backbone: depth, width, resolution and compound
scaling at equal real FLOPs per phi, over seeds, with a verdict per phi."""

from nas.curves._points import METHODS, PAPER, CurvesConfig, build_curve_points
from nas.curves._report import curve_table, phi_verdicts, write_curves_report
from nas.curves._run import STUDY_NAME, run_scaling_curves

__all__ = [
    "METHODS",
    "PAPER",
    "STUDY_NAME",
    "CurvesConfig",
    "build_curve_points",
    "curve_table",
    "phi_verdicts",
    "run_scaling_curves",
    "write_curves_report",
]
