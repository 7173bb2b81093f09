"""The OpenAPI document at /docs: every keyed route shows an example of its answer, of
each error it can give (in the one error shape), and of its request body."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tierline.api import schemas

_KEYED = "/v1/"
# The one /v1 route that takes no key: a tablet redeems its pairing code there.
_UNKEYED = {"/v1/pairing/redeem"}


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        if path.startswith(_KEYED)
        for method, op in item.items()
    ]


def test_every_v1_route_documents_answer_and_error_examples(client: TestClient) -> None:
    """Success and error responses carry examples; errors use {"error": {code, message}};
    every route documents 401 and 403 (it needs a key)."""
    schema = client.get("/openapi.json").json()
    operations = _operations(schema)
    assert len(operations) >= 14
    missing = []
    for method, path, op in operations:
        responses = op["responses"]
        success = [s for s in responses if s.startswith("2")]
        for status in success:
            if "example" not in responses[status].get("content", {}).get("application/json", {}):
                missing.append(f"{method} {path} {status}")
        for status in ("401", "403"):
            if status not in responses and path not in _UNKEYED:
                missing.append(f"{method} {path} {status}")
        for status, response in responses.items():
            if status.startswith("4"):
                example = response["content"]["application/json"]["example"]
                # FastAPI leaves out a null "details" from the document.
                assert {"code", "message"} <= set(example["error"]), (path, status)
    assert not missing, f"responses without examples: {missing}"


def test_every_v1_request_body_has_an_example(client: TestClient) -> None:
    """A body's schema (or the body itself) carries an example a POS integrator can copy,
    and the documented decision example passes the API's own validation."""
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    missing = []
    for method, path, op in _operations(schema):
        body = op.get("requestBody")
        if body is None:
            continue
        content = body["content"]["application/json"]
        ref = content["schema"].get("$ref", "")
        model = components.get(ref.rsplit("/", 1)[-1], {})
        if not (content.get("example") or content.get("examples") or model.get("examples")):
            missing.append(f"{method} {path}")
    assert not missing, f"request bodies without examples: {missing}"
    for name, model in components.items():
        for example in model.get("examples", []):
            getattr(schemas, name).model_validate(example)  # raises if the example is wrong


def test_every_route_documents_a_typed_answer_and_the_error_body(client: TestClient) -> None:
    """Every route's success answer is a named, closed schema (not a free-form object), and
    every documented 4xx and 5xx refers to the one ErrorBody schema."""
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    untyped = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                content = response.get("content", {}).get("application/json")
                if path == "/metrics" and status == "200":
                    assert "text/plain" in response["content"], response
                    continue
                ref = (content or {}).get("schema", {}).get("$ref", "")
                name = ref.rsplit("/", 1)[-1]
                if status[0] in "45":
                    ok = name == "ErrorBody"
                else:
                    ok = components.get(name, {}).get("additionalProperties") is False
                if not ok:
                    untyped.append(f"{method.upper()} {path} {status}: {ref or 'no schema'}")
    assert not untyped, f"responses without their typed schema: {untyped}"
    error = components["ErrorBody"]
    assert error["required"] == ["error"]
    detail = components[error["properties"]["error"]["$ref"].rsplit("/", 1)[-1]]
    assert set(detail["required"]) == {"code", "message", "details"}


def test_the_input_limits_are_in_the_schema(client: TestClient) -> None:
    """The OpenAPI schema shows what is refused: NUL in text (a pattern), signal integers
    within the 64-bit range, and the customer path's pattern."""
    schema = client.get("/openapi.json").json()
    request = schema["components"]["schemas"]["DecisionRequest"]["properties"]
    assert request["customer_id"]["anyOf"][0]["pattern"] == schemas.CUSTOMER_ID_PATTERN
    [signals] = [s for s in request["signals"]["anyOf"] if s.get("type") == "object"]
    assert list(signals["patternProperties"]) == [schemas.NO_NUL]
    [values] = signals["patternProperties"].values()
    kinds = {v.get("type"): v for v in values["anyOf"]}
    assert kinds["string"]["pattern"] == schemas.NO_NUL
    # FastAPI's OpenAPI models hold bounds as floats: the 64-bit limits, to a float's precision.
    assert kinds["integer"]["minimum"] == float(-(2**63))
    assert kinds["integer"]["maximum"] == float(2**63 - 1)
    put = schema["paths"]["/v1/customers/{customer_id}"]["put"]["parameters"]
    [path] = [p for p in put if p["name"] == "customer_id"]
    assert path["schema"]["pattern"] == schemas.CUSTOMER_ID_PATTERN
