"""facegate: a self-hosted face verification and liveness service speaking the SenseID 1v1 API."""

__version__ = "0.1.0"
