#!/usr/bin/env python3
"""Fill a running fieldsurvey (any release) with a small history that touches every table a
migration may have to carry: sign-offs, an approval, a return and its correction (superseded),
a photo filed for two households (a clue), a rejection. Uses the reference field app's functions
(../shared/tools/fieldapp.py) and the fixtures' demo surveyor key.

  populate.py BASE_URL SHARED_DIR KEY_ID     prints a JSON summary of what it filed
"""
import copy
import json
import sys
import time
import uuid

BASE, SHARED, KEY_ID = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, f"{SHARED}/tools")
import fieldapp  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

FIX = f"{SHARED}/fixtures"
vector = json.load(open(f"{FIX}/signing-vector.json"))
KEY = Ed25519PrivateKey.from_private_bytes(fieldapp.unb64url(vector["private_key_b64url"]))
TEMPLATE = json.load(open(f"{FIX}/survey-h1.json", encoding="utf-8"))
REGISTRY = {h["household_code"]: h for h in json.load(open(f"{FIX}/households-full.json"))}
KINDS = ["house", "household_with_verifier", "water_source"]


def login(user):
    status, body = fieldapp.request(
        "POST", BASE + "/api/v1/auth/login",
        body=json.dumps({"username": user, "password": f"demo-{user}"}).encode(),
        content_type="application/json")
    assert status == 200, (user, status, body)
    return json.loads(body)["access_token"]


def survey(code, photos, supersedes=None):
    h = REGISTRY[code]
    s = copy.deepcopy(TEMPLATE)
    s["id"] = str(uuid.uuid4())
    s["supersedes"] = supersedes
    s["household_code"] = code
    s["members"] = copy.deepcopy(h["members"])
    for m in s["members"]:
        born = int(m["id_number"][6:10])
        if 6 <= 2026 - born <= 15 and m["schooling"] is None:
            m["schooling"] = "enrolled"
    s["location"]["lat"], s["location"]["lon"] = h["lat"], h["lon"]
    s["photos"] = [{"part": f"p{i + 1}", "kind": k} for i, k in enumerate(KINDS)]
    files = {f"p{i + 1}": f"{FIX}/photos/{name}" for i, name in enumerate(photos)}
    return s, files


def upload(token, s, files):
    signed = fieldapp.sign(fieldapp.fill_photo_hashes(s, files), KEY, KEY_ID)
    body, ctype = fieldapp.multipart(signed, files)
    status, resp = fieldapp.request("POST", BASE + "/api/v1/submissions", token=token,
                                    body=body, content_type=ctype)
    assert status == 202, (status, resp)
    return s["id"]


def final(token, sid):
    for _ in range(600):
        status, body = fieldapp.request("GET", f"{BASE}/api/v1/submissions/{sid}", token=token)
        sub = json.loads(body)
        if status == 200 and sub["status"] != "queued":
            return sub
        time.sleep(0.1)
    raise SystemExit(f"{sid} did not leave the queue")


def review(token, sub, decision, reasons):
    status, body = fieldapp.request(
        "POST", f"{BASE}/api/v1/submissions/{sub['id']}/review", token=token,
        body=json.dumps({"decision": decision, "digest": sub["content_digest"],
                         "reasons": reasons}, ensure_ascii=False).encode(),
        content_type="application/json")
    assert status == 200, (decision, status, body)


surveyor, township = login("surveyor1"), login("township1")
h = {n: [f"h{n}_house.jpg", f"h{n}_household_with_verifier.jpg", f"h{n}_water_source.jpg"]
     for n in (1, 2, 3)}
filed = {}
filed["approved"] = upload(surveyor, *survey("522732101201-0001", h[1]))
filed["returned"] = upload(surveyor, *survey("522732101201-0002", h[2]))
filed["awaiting_review"] = upload(surveyor, *survey("522732101201-0003", h[3]))
# The house of household 0001 filed again for 0004: a photo-reuse flag and clue.
filed["photo_reused"] = upload(surveyor, *survey("522732101201-0004", [h[1][0], h[3][1], h[3][2]]))
bad, files = survey("522732101201-0005", h[2])
bad["members"][0]["id_number"] = bad["members"][0]["id_number"][:-1] + (
    "0" if bad["members"][0]["id_number"][-1] != "0" else "1")
filed["rejected"] = upload(surveyor, bad, files)
subs = {k: final(surveyor, v) for k, v in filed.items()}
assert subs["rejected"]["status"] == "rejected", subs["rejected"]
for k in ("approved", "returned", "awaiting_review", "photo_reused"):
    assert subs[k]["status"] == "signed_off", subs[k]
review(township, subs["approved"], "approve", [])
review(township, subs["returned"], "return",
       [{"action": "correct", "field": "income.net_cny", "note": "工资收入与务工证明不符"}])
filed["correction"] = upload(surveyor, *survey("522732101201-0002", h[2], supersedes=filed["returned"]))
assert final(surveyor, filed["correction"])["status"] == "signed_off"
print(json.dumps(filed, indent=2))
