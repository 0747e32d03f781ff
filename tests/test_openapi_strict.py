"""The OpenAPI document says exactly what the server accepts: bodies it calls valid are not
refused for their form, bodies it calls invalid are refused, and schemathesis finds no server
error and no answer outside the document (fixed seed, bounded examples, both engines)."""

from __future__ import annotations

import jsonschema
import pytest
import requests
import schemathesis
from helpers import A1, body, call
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.specs.openapi import checks as openapi_checks

from engagement_api.server.openapi import openapi_document


def request_schema(path: str, media: str = "application/json") -> dict:
    operation = openapi_document()["paths"][path]["post"]
    return operation["requestBody"]["content"][media]["schema"]


def valid(schema: dict, document: object) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(document)


TOTALS = "/insights/engagement/totals"


@pytest.mark.parametrize(
    "document",
    [
        body([A1], ["favorites"], {"": {"group_by": ["tweet.id"]}}),  # an empty grouping name
        body([A1], ["favorites"], {"errors": {"group_by": ["tweet.id"]}}),  # a reserved one
        body(["01"], ["favorites"]),  # not canonical
        body(["9223372036854775808"], ["favorites"]),  # 2^63
        {**body([A1], ["favorites"]), "tweet_ids": [2**63]},
        body([A1], ["likes"]),
        body([A1], ["favorites"], {"g": {"group_by": ["engagement.day"]}}),  # not on /totals
    ],
)
def test_what_the_server_refuses_the_document_calls_invalid(world, document):
    assert not valid(request_schema(TOTALS), document)
    r = call(world.server, "totals", document, headers={"Authorization": f"Bearer {world.bearer}"})
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(
    "document",
    [
        body([A1], ["favorites"], {"g": {"group_by": [" Tweet.ID ", "ENGAGEMENT.type"]}}),
        {**body([A1], ["favorites"]), "tweet_ids": [f" {A1}\n", A1]},
        body(["9223372036854775807"], ["favorites"]),
    ],
)
def test_what_the_document_calls_valid_the_server_reads(world, document):
    assert valid(request_schema(TOTALS), document)
    r = call(world.server, "totals", document, headers={"Authorization": f"Bearer {world.bearer}"})
    assert r.status_code == 200, r.text


def test_the_token_routes_require_their_fields(world):
    token = request_schema("/oauth2/token", "application/x-www-form-urlencoded")
    assert not valid(token, {})
    assert valid(token, {"grant_type": "client_credentials"})
    invalidate = request_schema("/oauth2/invalidate_token", "application/x-www-form-urlencoded")
    assert not valid(invalidate, {"access_token": ""})
    operation = openapi_document()["paths"]["/oauth2/token"]["post"]
    assert operation["requestBody"]["required"] is True
    r = requests.post(
        f"{world.server.url}/oauth2/token",
        auth=(world.alice.app.consumer_key, world.alice.app.consumer_secret),
        timeout=10,
    )
    assert r.status_code == 400


@schemathesis.serializer("application/x-ndjson")
def _ndjson(context, value) -> bytes:
    """Live ingest's body: the document calls it a string of NDJSON lines."""
    return value.encode() if isinstance(value, str) else bytes(value)


CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]


def explore(operation, world) -> None:
    """A bounded, seeded run of generated requests (valid and invalid) against one operation,
    authenticated as a real client would be (bearer on /totals, user context on the series)."""

    @settings(
        max_examples=30,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case) -> None:
        headers, auth = {}, None
        if operation.path == TOTALS:
            headers = {"Authorization": f"Bearer {world.bearer}"}
        elif operation.path.startswith("/insights/"):
            auth = world.alice.oauth()
        case.call_and_validate(base_url=world.server.url, headers=headers, auth=auth, checks=CHECKS)

    run()


def test_schemathesis_finds_nothing(world):
    failures: list[str] = []
    for result in schemathesis.openapi.from_dict(openapi_document()).get_all_operations():
        operation = result.ok()
        try:
            explore(operation, world)
        except Exception as error:  # one report for every operation
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    assert not failures, "\n\n".join(failures)
