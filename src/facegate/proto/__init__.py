"""The liveness package wire format: protobuf (``proto/facegate/v1/liveness.proto``) inside an
AES-256-GCM envelope.

``codec`` is the only module that touches the protobuf types; the generated code lives under
``facegate.proto.facegate.v1`` and is regenerated with ``make proto``.
"""
