"""Using history: replay a past period (``gridhash backtest``) and fit the risk models
(``gridhash calibrate``) from series files such as ``gridhash fetch`` writes.

Sits beside report and risk: it runs the one pipeline (:mod:`gridhash.pipeline`) and
sums with the one set of accounts (:func:`gridhash.report.summary.summary`); only
the command line imports it.
"""
