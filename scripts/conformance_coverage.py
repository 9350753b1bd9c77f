#!/usr/bin/env python3
"""Every status the OpenAPI document promises was answered at least once.

Usage: conformance_coverage.py OPENAPI_URL RECORDING…

Reads the document and the recordings of answers — the HAR files schemathesis wrote and the
list scripts/conformance_flows.py wrote (scripts/conformance) — and
prints, per operation, the documented statuses no request reached. A status that only a load,
a full disk or a slow client brings about is listed in ELSEWHERE with the test that reaches
it; anything else unreached fails the run.
"""

import json
import re
import sys
import urllib.parse
import urllib.request

# (method, path, status) -> the test that shows the service answering it.
ELSEWHERE = {
    ("post", "/api/v1/submissions", "408"):
        "tests/e2e_limits.rs uploads_at_once_are_capped_and_a_stalled_body_is_dropped",
    ("post", "/api/v1/submissions", "503"):
        "tests/e2e_limits.rs uploads_at_once_are_capped_and_a_stalled_body_is_dropped, "
        "an_unwritable_photo_store_answers_503_and_loses_nothing_acknowledged",
    ("post", "/api/v1/submissions", "429"):
        "tests/e2e_limits.rs uploads_past_the_account_rate_are_refused_with_retry_after_and_change_nothing",
    ("head", "/api/v1/uploads/{id}", "410"):
        "tests/tus_uploads.rs protocol (an expired upload)",
    ("patch", "/api/v1/uploads/{id}", "410"):
        "tests/tus_uploads.rs protocol (an expired upload)",
    ("patch", "/api/v1/uploads/{id}", "408"):
        "tests/tus_uploads.rs resume_after_a_cut (a stalled body)",
    ("post", "/api/v1/uploads", "429"):
        "tests/tus_uploads.rs protocol (the cap on unfinished uploads)",
    ("post", "/api/v1/suspected-missed", "408"):
        "tests/e2e_limits.rs a_suspected_missed_report_meets_the_same_stall_and_store_faults_as_a_survey",
    ("post", "/api/v1/suspected-missed", "503"):
        "tests/e2e_limits.rs a_suspected_missed_report_meets_the_same_stall_and_store_faults_as_a_survey",
    ("get", "/readyz", "503"):
        "tests/e2e_production.rs nothing_accepted_is_lost_while_the_broker_is_unreachable",
}


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
        for method, op in item.items():
            if method in ("get", "put", "post", "delete", "patch", "head", "options"):
                documented = {s for s in op.get("responses", {}) if s.isdigit()}
                yield method, path, pattern, documented


def main():
    url, hars = sys.argv[1], sys.argv[2:]
    with urllib.request.urlopen(url) as r:
        doc = json.load(r)
    ops = list(operations(doc))
    seen = {(m, p): set() for m, p, _, _ in ops}
    answered = 0
    for recording in hars:
        with open(recording, encoding="utf-8") as f:
            data = json.load(f)
        if isinstance(data, dict):  # HAR
            answers = [
                (e["request"]["method"], urllib.parse.urlsplit(e["request"]["url"]).path, e["response"]["status"])
                for e in data.get("log", {}).get("entries", [])
            ]
        else:
            answers = [(a["method"], a["path"], a["status"]) for a in data]
        for method, path, status in answers:
            method, status = method.lower(), str(status)
            answered += 1
            for m, p, pattern, _ in ops:
                if m == method and pattern.match(path):
                    seen[(m, p)].add(status)
                    break
    missing = []
    for m, p, _, documented in ops:
        for status in sorted(documented - seen[(m, p)]):
            where = ELSEWHERE.get((m, p, status))
            if where:
                print(f"conformance: {m.upper()} {p} {status}: reached by {where}")
            else:
                missing.append(f"{m.upper()} {p} {status}")
    print(
        f"conformance: {answered} answers to {len(ops)} operations; "
        f"{sum(len(d) for *_, d in ops)} documented statuses, {len(missing)} never answered"
    )
    for line in missing:
        print(f"conformance: never answered: {line}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
