"""SLOs and alerts: rolling statistics per route, error budgets, burn rates, alerts.

    observation.py  a finished request as the engine sees it
    bins.py         log-spaced latency histogram bins
    window.py       rolling, time-bucketed statistics of one stream (O(1) recording)
    spend.py        spend per tenant, for cost anomalies
    objectives.py   a route's objectives and the verdicts on one request
    budget.py       burn-rate and error-budget arithmetic
    engine.py       SloEngine: observe() on the request path, evaluate() → Report
    report.py       the Report values
    conditions.py   alert rules: Report → conditions that hold
    alerts.py       the alert state machine: Alerting.step(report, now) → AlertEvents
    sinks.py        log, webhook, Alertmanager; Dispatcher
    loop.py         SloLoop: the background task

Everything but sinks.py and loop.py is pure, with the clock passed in.
"""
