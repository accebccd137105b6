"""The write API's accepted/refused/failed writes read from its /metrics exposition."""

from __future__ import annotations

from bench.write_api_counts import write_counts

EXPOSITION = """\
# HELP cud_api_http_requests_total Requests answered.
# TYPE cud_api_http_requests_total counter
cud_api_http_requests_total{method="POST",route="api:todos",status="202"} 10.0
cud_api_http_requests_total{method="PATCH",route="api:todo",status="202"} 4.0
cud_api_http_requests_total{method="DELETE",route="api:todo",status="503"} 2.0
cud_api_http_requests_total{method="POST",route="api:todos",status="503"} 3.0
cud_api_http_requests_total{method="POST",route="api:todos",status="500"} 1.0
cud_api_http_requests_total{method="POST",route="api:todos",status="400"} 7.0
cud_api_http_requests_total{method="GET",route="api:todo",status="503"} 5.0
cud_api_http_requests_total{method="POST",route="auth:token",status="503"} 6.0
"""


def test_writes_are_summed_by_outcome_leaving_out_reads_auth_and_client_errors() -> None:
    assert write_counts(EXPOSITION) == {"accepted": 14, "refused": 5, "failed": 1}


def test_an_exposition_without_the_counter_counts_nothing() -> None:
    assert write_counts("") == {"accepted": 0, "refused": 0, "failed": 0}
