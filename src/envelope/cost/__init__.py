"""Cost: chargeback statements, budget forecasts and the pre-launch estimator.

`period.py` reads report periods; `chargeback.py` prices ledger totals under the plans
of `gateway.chargeback` (config/chargeback.py); `forecast.py` projects a tenant's spend
to the end of its budget period; `estimate.py` turns routed sample prompts into token
burn and cost per day, and `planner.py` routes them with the gateway's own stages.
All but `planner.py` are pure; the CLI (`cli/report.py`, `cli/estimate.py`) does the I/O.
"""
