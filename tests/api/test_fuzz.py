"""Every operation of the OpenAPI document, fuzzed from it with Schemathesis (issue 17): schema-
valid and schema-invalid requests, against the app (forms, decryption, keys, errors, bodies)
with a stand-in engine: random ciphertexts never reach the decoders, which have fuzz tests of
their own. No answer may be a server error, an undocumented status or content type, or a body
its schema does not describe.

Two checks are left out, on purpose: "schema-valid requests are accepted" cannot hold for
parameters that are AES-256-GCM ciphertexts (no schema can generate a valid one, and a wrong
one is the documented 2002), and "an unknown method is 405" is not the manual's answer (404).
``FACEGATE_FUZZ_EXAMPLES`` sets the examples per operation (``make fuzz`` runs more).
"""

from __future__ import annotations

import os
import tempfile

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance, unsupported_method

from facegate.api.app import OPENAPI_URL, create_app
from facegate.settings import Settings
from tests.worker import FakeEngine

EXAMPLES = int(os.environ.get("FACEGATE_FUZZ_EXAMPLES", "40"))

# The cloud API's database and uploads in a folder of their own.
app = create_app(Settings(data_dir=tempfile.mkdtemp(prefix="facegate-fuzz-")), engine=FakeEngine())
schema = schemathesis.openapi.from_asgi(OPENAPI_URL, app)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_request_as_documented(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=[unsupported_method, positive_data_acceptance])
