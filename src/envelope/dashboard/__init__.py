"""The dashboards' data: pure views over ledger rollups, SLO reports and control
transitions (`window`, `figures`, `executive`, `operations`, `debugging`), and the thin
shell that reads them from a running gateway (`inputs`). The web UI that draws them is
served by `envelope.http.dashboard`."""
