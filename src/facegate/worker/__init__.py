"""The inference tier: the ``InferenceEngine`` protocol the routes call (``interface``), its
in-process implementation (``local``), the worker app on port 50050 (``service``), its client
(``remote``) and their wire format (``wire``).

This package imports nothing on its own: importing ``facegate.worker.interface`` must load no model
runtime, and only ``local`` needs one.
"""
