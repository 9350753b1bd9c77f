// 谁核实、谁签字: the surveyor's Ed25519 key is made on this phone by WebCrypto,
// non-extractable, kept in IndexedDB, and enrolled with the one-time code the township gave
// them. Every survey is signed here, over its RFC 8785 bytes, before it leaves the phone.
"use strict";

import * as store from "./store.js";
import { call } from "./api.js";
import { b64url, canonicalBytes, hex, sha256 } from "./jcs.js";

export async function keyOf(username) {
  return (await store.get("kv", "key:" + username)) || null;
}

export async function enrol(username, code) {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  const keyId = "k_" + hex(await sha256(raw)).slice(0, 16);
  const answer = await call("/api/v1/keys", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ public_key: b64url(raw), enrolment_code: code.trim() }),
  });
  if (answer.key_id !== keyId) throw new Error("服务登记的密钥与本机的不一致");
  // Kept only once the service has it: a refused code leaves a working key in place.
  const record = { keyId, privateKey: pair.privateKey, publicKey: b64url(raw), enrolled: new Date().toISOString() };
  await store.put("kv", record, "key:" + username);
  return record;
}

/// The survey with its signature member, signed with `key` over its canonical bytes.
export async function signSurvey(survey, key) {
  const value = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, canonicalBytes(survey));
  return { ...survey, signature: { key_id: key.keyId, alg: "ed25519", value: b64url(value) } };
}
