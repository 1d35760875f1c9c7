"""Tools for `envelope bench`: a lean load generator and a CPU meter.

`envelope.bench.load.run_load` drives HTTP/1.1 keep-alive load and reports latency
percentiles; `envelope.bench.cpu` reads the CPU time of a process tree from /proc, so a
benchmark can report CPU per request of the gateway, the upstream and itself.
"""
