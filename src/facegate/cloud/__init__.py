"""The multi-tenant cloud API (``/identity/liveness_selfie_verification``)."""
