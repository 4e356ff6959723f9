#!/usr/bin/env python3
"""Runs scim2-tester (PyPI, pinned in requirements.txt) against a Skybridge SCIM endpoint.

    check.py <tenant_url> <secret_token>

The tester drives the server through its Python API for the User and Group resource types: discovery
(ServiceProviderConfig, ResourceTypes, Schemas and the meta-schemas, 404s, 405s), create, read, list,
attributes/excludedAttributes on GET, on lists and on POST /.search, PUT, DELETE, and PATCH add, replace
and remove of every attribute the server advertises.

Two things are adjusted around the tester, each explained where it is done: phone numbers it generates are
E.164 (`give_phone_numbers_e164_examples`), and a 429 from the per-account rate limit is waited out as Entra
does (`RetryAfter`).

Every result is printed, one per line: status, resource type, check and reason. The script exits non-zero
when any result is neither SUCCESS nor SKIPPED, or when a SKIPPED result gives no reason. Its last line is
`SCIM2-TESTER-SUMMARY <json>`: the counts per status and every (status, check, resource type), which
crates/server/tests/api/scim_tester.rs reads to check that the run actually exercised the server.
"""

import json
import random
import sys
import time

from httpx2 import BaseTransport
from httpx2 import Client
from httpx2 import HTTPTransport
from httpx2 import Request
from httpx2 import Response
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ResourceType
from scim2_models import Schema
from scim2_models import ScimProvider
from scim2_models import ServiceProviderConfig
from scim2_tester import Status
from scim2_tester import check_server

SUMMARY_PREFIX = "SCIM2-TESTER-SUMMARY "

# North American numbers that libphonenumber (the server's validator) accepts: these area codes take any
# exchange from 200 to 999.
AREA_CODES = ["212", "312", "415", "416", "514", "604", "613", "617", "702", "905"]


def e164_examples(count: int) -> list[str]:
    """`count` distinct, valid E.164 numbers such as +16135550123, in random order."""
    rng = random.SystemRandom()
    numbers: set[str] = set()
    while len(numbers) < count:
        area = rng.choice(AREA_CODES)
        numbers.add(f"+1{area}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}")
    return list(numbers)


def give_phone_numbers_e164_examples(schemas: list[Schema]) -> int:
    """Sets E.164 canonical values on every `phoneNumbers.value` the server describes; returns how many.

    Why: scim2-tester 0.5.2 generates a phone number as ten bare digits (scim2_tester/filling.py,
    `generate_random_value`, the `is_phone` branch), e.g. 4155550123. Skybridge requires E.164 (+14155550123)
    and answers 400 invalidValue to anything else, as the SCIM specification of the endpoint demands — so
    every check that fills phoneNumbers (creation with all attributes, PUT, PATCH add/replace) would fail on
    the tester's test data rather than on the server. The tester uses an attribute's canonical values as its
    examples (`get_random_example_value`, which wins over the digits), and scim2-models turns a schema
    attribute's `canonicalValues` into those examples when it builds the models. So the schemas the server
    published get E.164 canonical values for `phoneNumbers.value` before the models are built; nothing else
    about the server's description changes, and the discovery checks still query the server itself.

    The list is large because mobile and work numbers are unique within the account: two resources the
    tester holds at once must not draw the same number.
    """
    examples = e164_examples(50_000)
    adjusted = 0
    for schema in schemas:
        for attribute in schema.attributes or []:
            if (attribute.name or "").casefold() != "phonenumbers":
                continue
            for sub in attribute.sub_attributes or []:
                if (sub.name or "").casefold() == "value":
                    sub.canonical_values = examples
                    adjusted += 1
    return adjusted


def describe_server(client: SyncSCIMClient) -> None:
    """Discovers the server as `SyncSCIMClient.discover` does, with E.164 phone examples (see above).

    check_server keeps the description a client already has (`_describe_service`: a provider with models
    is used as it is), so the adjusted models are the ones its CRUD and PATCH checks run with. When discovery
    itself fails, the client is left undescribed: check_server then runs its own discovery checks and reports
    what is wrong as ERROR results.
    """
    try:
        resource_types = client.query(ResourceType, raise_scim_errors=True).resources or []
        schemas = client.query(Schema, raise_scim_errors=True).resources or []
        config = client.query(ServiceProviderConfig, raise_scim_errors=True)
        adjusted = give_phone_numbers_e164_examples(schemas)
        client.provider = ScimProvider.from_discovery(
            schemas, resource_types, config, client.provider.policy
        )
    except Exception as exc:  # noqa: BLE001 - reported, then check_server reports the details
        print(f"NOTE     discovery before the run failed ({exc}); check_server will report it")
        return
    print(f"NOTE     E.164 examples given to {adjusted} phoneNumbers.value attribute(s)")


class RetryAfter(BaseTransport):
    """Waits and retries when the server answers 429 with Retry-After, as Entra ID's provisioning service does.

    The tester sends a few hundred requests in a couple of seconds, more than the per-account rate limit lets
    through at once (it is sized for Entra, which needs 25 a second). A refused request was not processed, so
    sending it again is safe; how often that happened is printed. The whole run waits at most `budget` seconds.
    """

    def __init__(self, inner: BaseTransport, budget: float = 120.0) -> None:
        self.inner = inner
        self.budget = budget
        self.retried = 0
        self.waited = 0.0

    def handle_request(self, request: Request) -> Response:
        while True:
            response = self.inner.handle_request(request)
            if response.status_code != 429 or self.waited >= self.budget:
                return response
            try:
                wait = max(1.0, float(response.headers.get("retry-after", "1")))
            except ValueError:
                wait = 1.0
            response.read()
            response.close()
            time.sleep(wait)
            self.retried += 1
            self.waited += wait

    def close(self) -> None:
        self.inner.close()


def indent(text: object) -> str:
    return str(text).replace("\n", "\n             ")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    tenant_url, token = sys.argv[1], sys.argv[2]

    transport = RetryAfter(HTTPTransport(trust_env=False))
    http = Client(
        base_url=tenant_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
        transport=transport,
        trust_env=False,
    )
    client = SyncSCIMClient(http)
    describe_server(client)
    results = check_server(client, resource_types=["User", "Group"])

    failed = []
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
        print(f"{r.status.name:8} {r.resource_type or '-':6} {r.title}: {indent(r.reason or '')}")
        if r.status == Status.SKIPPED and not (r.reason or "").strip():
            failed.append(r)
            print("         ^ SKIPPED without a reason")
        elif r.status not in (Status.SUCCESS, Status.SKIPPED):
            failed.append(r)
            if r.data is not None:
                print(f"         data: {indent(r.data)}")

    skipped = [r for r in results if r.status == Status.SKIPPED]
    if skipped:
        print(f"\n{len(skipped)} SKIPPED:")
        for r in skipped:
            print(f"  {r.resource_type or '-'} {r.title}: {r.reason}")

    summary = {
        "counts": counts,
        "results": [[r.status.name, r.title, r.resource_type] for r in results],
    }
    if transport.retried:
        print(
            f"\nNOTE     {transport.retried} requests were answered 429 and sent again after Retry-After "
            f"({transport.waited:.0f} s in all)"
        )
    print(f"\n{len(results)} results, {len(failed)} failed: {counts}")
    print(SUMMARY_PREFIX + json.dumps(summary))
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
