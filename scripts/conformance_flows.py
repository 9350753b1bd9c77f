#!/usr/bin/env python3
"""The answers a generator cannot reach, reached on purpose and checked against the document.

Usage: conformance_flows.py BASE_URL DEV_LOG OUT.json

Against `fieldsurvey dev --demo` (scripts/conformance starts it), as the people who use it
would: the surveyor uploads a signed survey with its photos with the reference field app
(../shared/tools/fieldapp.py) and sends it again, then other content under the same id; fetches
it and its photos (again with If-None-Match); a reviewer enrols a key with the demo's one-time
code and signs an approval; the county draws a spot check and confirms; a clue is closed; an
account is locked by wrong passwords. Every answer must be documented for its operation —
status, content type and body schema (JSON Schema 2020-12, as OpenAPI 3.1 writes it) — and is
written to OUT.json for scripts/conformance_coverage.py. Exits non-zero on any answer that
breaks the document or a flow that does not go as the contract says.
"""

import base64
import datetime
import hashlib
import json
import os
import re
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared")
sys.path.insert(0, os.path.join(SHARED, "tools"))

import fieldapp  # noqa: E402  (the reference client, beside the fixtures)
import jsonschema  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

FIXTURES = os.path.join(SHARED, "fixtures")


class Flows:
    def __init__(self, base, doc):
        self.base = base
        self.doc = doc
        self.ops = []
        for path, item in doc["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
            for method, op in item.items():
                self.ops.append((method.upper(), path, pattern, op))
        self.seen = []
        self.faults = []

    def call(self, method, path, token=None, body=None, content_type=None, headers=None):
        req = urllib.request.Request(self.base + path, data=body, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if content_type:
            req.add_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, ctype, raw, hdrs = resp.status, resp.headers.get("Content-Type", ""), resp.read(), resp.headers
        except urllib.error.HTTPError as e:
            status, ctype, raw, hdrs = e.code, e.headers.get("Content-Type", ""), e.read(), e.headers
        self.check(method, path, status, ctype, raw)
        return status, raw, hdrs

    def json(self, method, path, token=None, payload=None, headers=None):
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        status, raw, hdrs = self.call(method, path, token, body, "application/json" if body else None, headers)
        try:
            return status, json.loads(raw) if raw else None, hdrs
        except ValueError:
            return status, None, hdrs

    def check(self, method, path, status, ctype, raw):
        bare = urllib.parse.urlsplit(path).path
        self.seen.append({"method": method, "path": bare, "status": status})
        op = next((op for m, _, p, op in self.ops if m == method and p.match(bare)), None)
        where = f"{method} {bare} {status}"
        if op is None:
            self.faults.append(f"{where}: not in the document")
            return
        answer = op.get("responses", {}).get(str(status))
        if answer is None:
            self.faults.append(f"{where}: status not documented")
            return
        content = answer.get("content")
        if not content or not raw:
            return
        media = ctype.split(";")[0].strip()
        if media not in content:
            self.faults.append(f"{where}: content type {media}, documented {sorted(content)}")
            return
        schema = content[media].get("schema")
        if not schema or not media.endswith("json"):
            return
        root = dict(schema)
        root["components"] = self.doc.get("components", {})
        try:
            jsonschema.validate(json.loads(raw), root, cls=jsonschema.Draft202012Validator)
        except jsonschema.ValidationError as e:
            at = "/".join(str(p) for p in e.absolute_path)
            self.faults.append(f"{where}: body does not match its schema at /{at}: {e.message}")

    def expect(self, what, status, wanted):
        if status not in wanted:
            self.faults.append(f"{what}: answered {status}, expected {sorted(wanted)}")


def survey_body(key, key_id, photos, overrides=None):
    survey = json.load(open(os.path.join(FIXTURES, "survey-h1.json"), encoding="utf-8"))
    survey.pop("signature", None)
    survey.update(overrides or {})
    survey = fieldapp.sign(fieldapp.fill_photo_hashes(survey, photos), key, key_id)
    return survey, *fieldapp.multipart(survey, photos)


def wait_final(f, token, sid, seconds=60):
    until = time.time() + seconds
    while time.time() < until:
        status, view, _ = f.json("GET", f"/api/v1/submissions/{sid}", token)
        if status == 200 and view and view.get("status") not in ("queued",):
            return view
        time.sleep(0.3)
    return None


def decision(f, token, path, action, sid, digest, key, key_id, signer):
    """A review (`reasons`) or a spot-check decision (`reason`), signed as core/src/decision.rs
    defines the documents."""
    decided_at = datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")
    doc = {"action": action, "submission_id": sid, "content_digest": digest, "decided_at": decided_at,
           "key_id": key_id, "signer": signer}
    payload = {"decision": action, "digest": digest, "decided_at": decided_at, "key_id": key_id}
    if path.endswith("/review"):
        # An approval of a flagged or failing version carries a note (a `keep` reason); the
        # demo's surveys carry flags (photo times), so every approval here says why.
        reasons = [{"action": "keep", "note": "一致性测试：已核实"}] if action == "approve" else []
        doc["reasons"] = payload["reasons"] = reasons
    else:
        doc["reason"] = payload["reason"] = ""
    payload["signature"] = fieldapp.sign_decision(doc, key)
    return f.json("POST", path, token, payload)


def clue_decision(f, token, clue_id, action, reason, key, key_id, signer):
    """A clue's closure (`close`, by the assigned unit) or the level above's confirmation or
    reopening (`confirm`, `reopen`), signed as core/src/decision.rs defines the documents."""
    decided_at = datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")
    doc = {"action": action, "clue_id": clue_id, "reason": reason, "decided_at": decided_at,
           "key_id": key_id, "signer": signer}
    payload = {"reason": reason, "decided_at": decided_at, "key_id": key_id,
               "signature": fieldapp.sign_decision(doc, key)}
    verb = "close" if action == "close" else action
    return f.json("POST", f"/api/v1/clues/{clue_id}/{verb}", token, payload)


def enter_signed(clue, key, key_id, signer):
    """A clue entered by hand, signed as core/src/decision.rs `clue_enter_document` defines."""
    decided_at = datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")
    given = lambda k: (clue.get(k) or "").strip() or None  # noqa: E731
    doc = {"action": "enter", "clue_id": clue["id"], "source": clue["source"], "kind": clue["kind"],
           "description": clue["description"].strip(), "org": clue["org"],
           "household_code": given("household_code"), "deadline": given("deadline"),
           "severity": given("severity"), "evidence": clue.get("evidence", []),
           "source_ref": clue.get("source_ref"), "decided_at": decided_at, "key_id": key_id,
           "signer": signer}
    return dict(clue, decided_at=decided_at, key_id=key_id, signature=fieldapp.sign_decision(doc, key))


def form(parts):
    """multipart/form-data of (name, content type, bytes) parts, in order."""
    boundary = "conformance" + hashlib.sha256(repr([p[0] for p in parts]).encode()).hexdigest()[:16]
    out = bytearray()
    for name, ctype, data in parts:
        out += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n".encode()
        out += f"Content-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def wait_job(f, token, job_id, seconds=120):
    until = time.time() + seconds
    while time.time() < until:
        status, job, _ = f.json("GET", f"/api/v1/jobs/{job_id}", token)
        if status != 200 or (job or {}).get("status") in ("done", "failed"):
            return job or {}
        time.sleep(0.3)
    return {}


def main():
    base, dev_log, out = sys.argv[1:4]
    status, raw = fieldapp.request("GET", base + "/api/v1/openapi.json")
    doc = json.loads(raw)
    f = Flows(base, doc)
    with open(dev_log, encoding="utf-8") as log:
        codes = dict(re.findall(r"^\s+(\w+)\s+([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\s*$", log.read(), re.M))

    tokens = {}
    for user in ("surveyor1", "surveyor2", "township1", "county1"):
        status, body, _ = f.json("POST", "/api/v1/auth/login", payload={"username": user, "password": f"demo-{user}"})
        f.expect(f"sign-in of {user}", status, {200})
        tokens[user] = (body or {}).get("access_token")
        if user == "surveyor1":
            status, _, _ = f.json("POST", "/api/v1/auth/refresh", payload={"refresh_token": (body or {}).get("refresh_token")})
            f.expect("refresh", status, {200})

    # The surveyor's upload, its resend, and other content under its id.
    vector = json.load(open(os.path.join(FIXTURES, "signing-vector.json"), encoding="utf-8"))
    key = Ed25519PrivateKey.from_private_bytes(fieldapp.unb64url(vector["private_key_b64url"]))
    key_id = "k_" + hashlib.sha256(fieldapp.unb64url(vector["public_key_b64url"])).hexdigest()[:16]
    photo = lambda name: os.path.join(FIXTURES, "photos", name)  # noqa: E731
    photos = {"p1": photo("h1_house.jpg"), "p2": photo("h1_household_with_verifier.jpg"), "p3": photo("h1_water_source.jpg")}
    # Not food-secure: the survey signs off with a failing indicator, which opens a clue.
    survey, body, ctype = survey_body(key, key_id, photos, {"food_secure": False})
    sid = survey["id"]
    status, _, _ = f.call("POST", "/api/v1/submissions", tokens["surveyor1"], body, ctype)
    f.expect("upload", status, {202})
    status, _, _ = f.call("POST", "/api/v1/submissions", tokens["surveyor1"], body, ctype)
    f.expect("resend", status, {200})
    _, other, octype = survey_body(key, key_id, photos, {"id": sid, "visited_at": "2026-11-20T11:00:00+08:00"})
    status, _, _ = f.call("POST", "/api/v1/submissions", tokens["surveyor1"], other, octype)
    f.expect("other content under the same id", status, {409})
    status, _, _ = f.call("POST", "/api/v1/submissions", tokens["surveyor1"], b"{}", "text/plain")
    f.expect("an upload that is not multipart", status, {415})
    big = b"--b\r\nContent-Disposition: form-data; name=\"survey\"\r\nContent-Type: application/json\r\n\r\n" + b" " * (300 * 1024) + b"\r\n--b--\r\n"
    status, _, _ = f.call("POST", "/api/v1/submissions", tokens["surveyor1"], big, "multipart/form-data; boundary=b")
    f.expect("a survey part over its limit", status, {413})

    view = wait_final(f, tokens["surveyor1"], sid)
    if not view or view.get("status") != "signed_off":
        f.faults.append(f"the upload did not sign off: {view and view.get('status')} {view and view.get('rejections')}")
        view = view or {}
    digest = view.get("content_digest", "")
    for variant in ("", "/thumbnail"):
        path = f"/api/v1/submissions/{sid}/photos/p1{variant}"
        status, _, hdrs = f.call("GET", path, tokens["surveyor1"])
        f.expect(f"photo{variant}", status, {200})
        status, _, _ = f.call("GET", path, tokens["surveyor1"], headers={"If-None-Match": hdrs.get("ETag", "")})
        f.expect(f"photo{variant} unchanged", status, {304})

    # A photo that is no image: the survey is rejected, its thumbnail cannot be made.
    bad, bbody, bctype = survey_body(key, key_id, dict(photos, p3=photo("not_an_image.jpg")),
                                     {"id": "0193a5b2-7c1e-7a10-9d2b-c0965cdc7301"})
    status, _, _ = f.call("POST", "/api/v1/submissions", tokens["surveyor1"], bbody, bctype)
    f.expect("upload with a broken photo", status, {202})
    wait_final(f, tokens["surveyor1"], bad["id"])
    status, _, _ = f.call("GET", f"/api/v1/submissions/{bad['id']}/photos/p3/thumbnail", tokens["surveyor1"])
    f.expect("thumbnail of a non-image", status, {409})

    # Resumable uploads (tus 1.0.0), each answer of the protocol, and a JSON submission naming
    # the uploads (then its resend). Expiry (410), a stalled body (408) and the cap on
    # unfinished uploads (429) are reached by tests/tus_uploads.rs.
    s1, tus = tokens["surveyor1"], {"Tus-Resumable": "1.0.0"}
    octet = "application/offset+octet-stream"
    status, _, _ = f.call("OPTIONS", "/api/v1/uploads")
    f.expect("tus options", status, {204})

    def create_upload(length, token=s1, version=tus):
        status, _, hdrs = f.call("POST", "/api/v1/uploads", token, headers=dict(version, **{"Upload-Length": str(length)}))
        return status, hdrs.get("Location", "") or ""

    def patch(loc, offset, data, extra=None, ctype=octet, version=tus):
        headers = dict(version, **{"Upload-Offset": str(offset)}, **(extra or {}))
        return f.call("PATCH", loc, s1, data, ctype, headers)[0]

    ids = {}
    for part, file in photos.items():
        data = open(file, "rb").read()
        status, loc = create_upload(len(data))
        f.expect("creating an upload", status, {201})
        status, _, _ = f.call("HEAD", loc, s1, headers=tus)
        f.expect("the upload's offset", status, {200})
        half = len(data) // 2
        f.expect("a first piece", patch(loc, 0, data[:half]), {204})
        if part == "p1":
            f.expect("a piece at the wrong offset", patch(loc, 0, data[:half]), {409})
            wrong = "sha256 " + base64.b64encode(hashlib.sha256(b"other").digest()).decode()
            f.expect("a piece with a wrong checksum", patch(loc, half, data[half:], {"Upload-Checksum": wrong}), {460})
            f.expect("a piece without Upload-Offset", f.call("PATCH", loc, s1, b"x", octet, tus)[0], {400})
            f.expect("a piece that is not an octet stream", patch(loc, half, b"x", ctype="text/plain"), {415})
            f.expect("a piece without Tus-Resumable", patch(loc, half, b"x", version={}), {412})
            f.expect("more than the upload's length", patch(loc, half, data[half:] + b"xx"), {413})
        right = "sha256 " + base64.b64encode(hashlib.sha256(data[half:]).digest()).decode()
        f.expect("the last piece", patch(loc, half, data[half:], {"Upload-Checksum": right}), {204})
        ids[part] = loc.rsplit("/", 1)[-1]
    f.expect("an upload without Upload-Length", f.call("POST", "/api/v1/uploads", s1, headers=tus)[0], {400})
    f.expect("an upload by a reviewer", create_upload(10, tokens["township1"])[0], {403})
    f.expect("an upload over the photo limit", create_upload(16 * 1024 * 1024)[0], {413})
    f.expect("an upload without Tus-Resumable", create_upload(10, version={})[0], {412})
    unknown = "/api/v1/uploads/00000000-0000-4000-8000-000000000000"
    f.expect("the offset of an unknown upload", f.call("HEAD", unknown, s1, headers=tus)[0], {404})
    f.expect("HEAD without Tus-Resumable", f.call("HEAD", unknown, s1)[0], {412})
    f.expect("a piece of an unknown upload", patch(unknown, 0, b"x"), {404})
    status, _, _ = f.call("PATCH", unknown, None, b"x", octet, dict(tus, **{"Upload-Offset": "0"}))
    f.expect("a piece without a caller", status, {401})
    f.expect("an offset without a caller", f.call("HEAD", unknown, None, headers=tus)[0], {401})
    f.expect("terminating without a caller", f.call("DELETE", unknown, None, headers=tus)[0], {401})
    status, loc = create_upload(10)
    f.expect("terminating an upload", f.call("DELETE", loc, s1, headers=tus)[0], {204})
    f.expect("terminating it again", f.call("DELETE", loc, s1, headers=tus)[0], {404})
    f.expect("DELETE without Tus-Resumable", f.call("DELETE", loc, s1)[0], {412})
    jsurvey, _, _ = survey_body(key, key_id, photos, {"id": "0193a5b2-7c1e-7a10-9d2b-c0965cdc7302"})
    for what, wanted in (("a JSON submission", {202}), ("its resend", {200})):
        status, _, _ = f.json("POST", "/api/v1/submissions", s1, {"survey": jsurvey, "uploads": ids})
        f.expect(what, status, wanted)

    household = survey["household_code"]
    status, _, _ = f.json("GET", f"/api/v1/households/{household}/accountability", tokens["township1"])
    f.expect("accountability", status, {200})

    # The township reviewer: a key enrolled with the demo's code, a signed approval.
    reviewer = Ed25519PrivateKey.generate()
    rpub = fieldapp.public_key(reviewer)
    status, enrolled, _ = f.json("POST", "/api/v1/keys", tokens["township1"],
                                 {"public_key": rpub, "enrolment_code": codes.get("township1", "")})
    f.expect("key enrolment", status, {201})
    rkey_id = (enrolled or {}).get("key_id", "")
    status, _, _ = f.json("POST", "/api/v1/keys", tokens["county1"],
                          {"public_key": rpub, "enrolment_code": codes.get("county1", "")})
    f.expect("another person enrolling the same key", status, {409})
    review = f"/api/v1/submissions/{sid}/review"
    status, _, _ = decision(f, tokens["surveyor1"], review, "approve", sid, digest, key, key_id, "surveyor1")
    f.expect("a surveyor approving", status, {404})
    status, _, _ = decision(f, tokens["county1"], review, "approve", sid, digest, key, key_id, "county1")
    f.expect("the county approving what the township decides", status, {403})
    status, _, _ = decision(f, tokens["township1"], review, "approve", sid, digest, reviewer, rkey_id, "township1")
    f.expect("approval", status, {200})
    status, _, _ = decision(f, tokens["township1"], review, "approve", sid, digest, reviewer, rkey_id, "township1")
    f.expect("approving twice", status, {409})

    # The county: a spot check of the township, confirmed once.
    county = Ed25519PrivateKey.generate()
    status, enrolled, _ = f.json("POST", "/api/v1/keys", tokens["county1"],
                                 {"public_key": fieldapp.public_key(county), "enrolment_code": codes.get("county1", "")})
    f.expect("county key enrolment", status, {201})
    ckey_id = (enrolled or {}).get("key_id", "")
    township = view.get("township_code") or household.split("-")[0][:9] + "000"
    status, drawn, _ = f.json("POST", "/api/v1/spot-checks", tokens["county1"], {"org": township, "rate": 1.0})
    f.expect("a spot check drawn", status, {201})
    status, _, _ = f.json("POST", "/api/v1/spot-checks", tokens["township1"], {"org": township, "rate": 1.0})
    f.expect("a township drawing a spot check", status, {403})
    check = f"/api/v1/submissions/{sid}/spot-check"
    status, _, _ = decision(f, tokens["county1"], check, "confirm", sid, digest, county, ckey_id, "county1")
    f.expect("spot check confirmed", status, {200})
    status, _, _ = decision(f, tokens["county1"], check, "confirm", sid, digest, county, ckey_id, "county1")
    f.expect("spot check confirmed twice", status, {409})
    nobody = "00000000-0000-7000-8000-000000000000"
    status, _, _ = decision(f, tokens["county1"], f"/api/v1/submissions/{nobody}/spot-check", "confirm",
                            nobody, digest, county, ckey_id, "county1")
    f.expect("spot check of a submission that does not exist", status, {404})

    # Clues: one closed by hand with a signed reason, then again; an unknown one.
    status, clues, _ = f.json("GET", "/api/v1/clues?status=open", tokens["township1"])
    items = (clues or {}).get("items", [])
    target = items[0]["id"] if items else "00000000-0000-7000-8000-000000000000"
    for what, wanted in (("closing a clue", {200}), ("closing it twice", {409})):
        decided_at = datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")
        doc_ = {"action": "close", "clue_id": target, "reason": "核实无误", "decided_at": decided_at,
                "key_id": rkey_id, "signer": "township1"}
        payload = {"reason": "核实无误", "decided_at": decided_at, "key_id": rkey_id,
                   "signature": fieldapp.sign_decision(doc_, reviewer)}
        status, _, _ = f.json("POST", f"/api/v1/clues/{target}/close", tokens["township1"], payload)
        f.expect(what, status, wanted if items else {404})

    status, _, _ = f.json("POST", "/api/v1/clues/00000000-0000-7000-8000-000000000000/close", tokens["township1"], payload)
    f.expect("closing a clue that does not exist", status, {404})

    # The level above: the county confirms the township's closure (销号), once; the township
    # cannot confirm its own; an unknown clue is 404.
    t1, c1 = tokens["township1"], tokens["county1"]
    status, _, _ = clue_decision(f, t1, target, "confirm", "", reviewer, rkey_id, "township1")
    f.expect("the assigned township confirming its own closure", status, {403})
    status, _, _ = clue_decision(f, c1, target, "confirm", "已核实，同意销号", county, ckey_id, "county1")
    f.expect("the county confirming a closure", status, {200})
    status, _, _ = clue_decision(f, c1, target, "confirm", "", county, ckey_id, "county1")
    f.expect("confirming it twice", status, {409})
    status, _, _ = clue_decision(f, c1, nobody, "confirm", "", county, ckey_id, "county1")
    f.expect("confirming a clue that does not exist", status, {404})

    # The county enters an audit finding for the township, with a deadline; the county may not
    # close it (the township rectifies), the township closes it, the county sends it back.
    deadline = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    entered = {"id": "0193a5b2-7c1e-7a10-9d2b-c0965cdc7320", "source": "audit", "kind": "other",
               "description": "审计发现：危房改造补助发放不到位", "org": "522732101000",
               "deadline": deadline, "severity": "high", "evidence": [],
               "source_ref": {"report": "审计〔2026〕12号", "item": 3}}
    signed = enter_signed(entered, county, ckey_id, "county1")
    status, clue, _ = f.json("POST", "/api/v1/clues", c1, signed)
    f.expect("the county entering an audit clue", status, {201})
    status, _, _ = f.json("POST", "/api/v1/clues", c1, signed)
    f.expect("its resend", status, {200})
    status, _, _ = f.json("POST", "/api/v1/clues", c1,
                          enter_signed(dict(entered, description="另一件事"), county, ckey_id, "county1"))
    f.expect("another clue under the same id", status, {409})
    status, _, _ = f.json("POST", "/api/v1/clues", t1, enter_signed(entered, reviewer, rkey_id, "township1"))
    f.expect("a township entering a clue", status, {403})
    audit = (clue or {}).get("id", nobody)
    status, _, _ = clue_decision(f, c1, audit, "close", "已整改", county, ckey_id, "county1")
    f.expect("the confirming county closing the clue itself", status, {403})
    status, _, _ = clue_decision(f, c1, audit, "reopen", "未整改到位", county, ckey_id, "county1")
    f.expect("reopening a clue that is not closed", status, {409})
    status, _, _ = clue_decision(f, t1, audit, "close", "补助已足额发放到户", reviewer, rkey_id, "township1")
    f.expect("the township closing the audit clue", status, {200})
    status, _, _ = clue_decision(f, t1, audit, "reopen", "自行退回", reviewer, rkey_id, "township1")
    f.expect("the township reopening its own closure", status, {403})
    status, _, _ = clue_decision(f, c1, audit, "reopen", "佐证不足，请补充发放凭证", county, ckey_id, "county1")
    f.expect("the county reopening the closure", status, {200})
    status, _, _ = clue_decision(f, c1, nobody, "reopen", "无此线索", county, ckey_id, "county1")
    f.expect("reopening a clue that does not exist", status, {404})

    # A JSON body over its limit (64 KiB), on every operation that takes one.
    big = json.dumps({"username": "x" * (70 * 1024), "password": "y"}).encode()
    for path in ("/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/keys", "/api/v1/spot-checks",
                 f"/api/v1/submissions/{sid}/review", f"/api/v1/submissions/{sid}/spot-check",
                 f"/api/v1/clues/{target}/close", f"/api/v1/clues/{target}/confirm",
                 f"/api/v1/clues/{target}/reopen", "/api/v1/clues", "/api/v1/exports"):
        status, _, _ = f.call("POST", path, tokens["county1"], big, "application/json")
        f.expect(f"an oversized body to {path}", status, {413})

    # Grids (包干到人): a township reviewer assigns a household of the township, a surveyor of
    # another township is refused, an oversized body is too large; the surveyor's own list.
    assignment = "/api/v1/households/522732101201-0001/assignment"
    status, _, _ = f.json("PUT", assignment, tokens["township1"], {"surveyor": "surveyor1"})
    f.expect("assigning a household", status, {200})
    status, _, _ = f.json("PUT", assignment, tokens["township1"], {"surveyor": "surveyor2"})
    f.expect("assigning another township's surveyor", status, {400})
    status, _, _ = f.call("PUT", assignment, tokens["township1"], big, "application/json")
    f.expect(f"an oversized body to {assignment}", status, {413})
    status, _, _ = f.json("GET", "/api/v1/assignments", tokens["surveyor1"])
    f.expect("a surveyor's own households", status, {200})
    status, _, _ = f.json("GET", "/api/v1/coverage?org=522732101000", tokens["township1"])
    f.expect("a township's coverage", status, {200})

    # Records the offices file (一户一档, exports, bulletins). scripts/conformance starts the
    # service with EXPORT_DIRECT_ROWS=20: the township's 30 households are past it, its three
    # villages' coverage within it.
    for fmt in ("csv", "xlsx"):
        status, _, _ = f.call("GET", f"/api/v1/exports/coverage?format={fmt}", t1)
        f.expect(f"a small export ({fmt}) in the answer", status, {200})
    status, _, _ = f.call("GET", "/api/v1/exports/households?format=csv", t1)
    f.expect("an export past the direct limit", status, {413})
    status, _, _ = f.call("GET", "/api/v1/exports/coverage?format=csv&org=522732102000", t1)
    f.expect("an export of another township", status, {404})
    status, _, _ = f.call("GET", "/api/v1/exports/coverage?format=csv", s1)
    f.expect("an export by a surveyor", status, {403})
    status, _, _ = f.json("POST", "/api/v1/exports", t1, {"dataset": "households", "format": "xlsx", "org": "522732102000"})
    f.expect("an export job for another township", status, {404})
    status, job, _ = f.json("POST", "/api/v1/exports", t1, {"dataset": "households", "format": "xlsx"})
    f.expect("an export job", status, {202})
    export_job = (job or {}).get("id", nobody)
    # A village's dossiers as one ZIP, twice over: the second is still queued behind the first
    # when its download is asked for (409), and both are whole when done.
    zips = []
    for village in ("522732101201", "522732101202"):
        status, job, _ = f.json("POST", f"/api/v1/villages/{village}/dossiers", t1)
        f.expect(f"the dossiers of {village}", status, {202})
        zips.append((job or {}).get("id", nobody))
    status, _, _ = f.call("GET", f"/api/v1/jobs/{zips[-1]}/download", t1)
    f.expect("a job's download before it is done", status, {409})
    for job_id in [export_job] + zips:
        done = wait_job(f, t1, job_id)
        if done.get("status") != "done":
            f.faults.append(f"job {job_id} did not finish: {done}")
        status, _, _ = f.call("GET", f"/api/v1/jobs/{job_id}/download", t1)
        f.expect("a finished job's download", status, {200})
    status, _, _ = f.call("GET", f"/api/v1/households/{household}/dossier.pdf", t1)
    f.expect("a household's dossier", status, {200})
    status, listed, _ = f.json("GET", "/api/v1/bulletins", t1)
    f.expect("the township's bulletins", status, {200})
    issued = (listed or {}).get("items", [])
    if not issued:
        f.faults.append("no bulletin to read: scripts/conformance issues last month's before the flows")
    status, _, _ = f.json("GET", f"/api/v1/bulletins/{issued[0]['id'] if issued else nobody}", t1)
    f.expect("a bulletin", status, {200})

    # 疑似漏评: a surveyor reports a household missing from the registry with one photo; the
    # resend answers with the same clue; the report part over its limit is too large.
    house = open(photo("h2_house.jpg"), "rb").read()
    report = {"id": "0193a5b2-7c1e-7a10-9d2b-c0965cdc7310", "village_code": "522732101201",
              "address": "示例11村三组 12 号", "description": "独居老人，住房破旧，未纳入底图"}
    rbody, rctype = form([("report", "application/json", json.dumps(report, ensure_ascii=False).encode()),
                          ("photo", "image/jpeg", house)])
    for what, wanted in (("a suspected-missed report", {201}), ("its resend", {200})):
        status, _, _ = f.call("POST", "/api/v1/suspected-missed", s1, rbody, rctype)
        f.expect(what, status, wanted)
    huge, hctype = form([("report", "application/json", b" " * (300 * 1024)), ("photo", "image/jpeg", house)])
    status, _, _ = f.call("POST", "/api/v1/suspected-missed", s1, huge, hctype)
    f.expect("a report part over its limit", status, {413})

    # A query that cannot be read (a parameter given twice).
    for path in ("/api/v1/stats?org=522732101000&org=522732000000", "/api/v1/clues?page=1&page=2"):
        status, _, _ = f.json("GET", path, tokens["township1"])
        f.expect(f"GET {path}", status, {400})

    # Wrong passwords: refused (401) until the account is locked (429, the account's limit of 5).
    answers = []
    for _ in range(7):
        status, _, _ = f.json("POST", "/api/v1/auth/login", payload={"username": "surveyor2", "password": "wrong"})
        answers.append(status)
    if answers[0] != 401 or answers[-1] != 429:
        f.faults.append(f"sign-in with wrong passwords answered {answers}: expected 401 first, 429 at last")

    with open(out, "w", encoding="utf-8") as fh:
        json.dump(f.seen, fh)
    print(f"conformance flows: {len(f.seen)} answers, {len(f.faults)} faults")
    for fault in f.faults:
        print(f"conformance flows: FAULT {fault}")
    return 1 if f.faults else 0


if __name__ == "__main__":
    import urllib.request  # noqa: F401  (fieldapp uses it; imported for Flows.call)
    sys.exit(main())
