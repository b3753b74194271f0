"""Operations: Prometheus metrics, JSON logs with request ids, probes."""
