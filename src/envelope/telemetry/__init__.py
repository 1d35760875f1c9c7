"""Prometheus metrics and OpenTelemetry traces, fed from the finished RequestContext."""
