"""Property-based fuzz of the API's own OpenAPI schema (schemathesis) against a live server: whatever
the parameters, valid or not, the answer is never a 5xx. CI-sized: a few dozen cases per route."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402

EXAMPLES_PER_ROUTE = 25


def test_no_input_makes_the_api_fail(api):
    base_url = str(api.base_url).rstrip("/")
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    seen: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case):
            response = case.call(base_url=base_url, timeout=60)
            seen.setdefault(operation.label, set()).add(response.status_code)
            assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query}: " \
                                               f"{response.status_code} {response.text[:300]}"

        call()
    print({label: sorted(codes) for label, codes in seen.items()})
    assert len(seen) == 8  # every route was exercised
    assert any(code == 422 for codes in seen.values() for code in codes)  # bad inputs were generated
