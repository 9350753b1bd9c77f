// RFC 8785 (JSON Canonicalization Scheme): ECMAScript's own serialisation of strings and
// numbers, object members sorted by UTF-16 code units (JavaScript's default string order), no
// whitespace. The survey's canonical bytes are the document without its `signature` member;
// its content digest is their SHA-256 (FORM.md). Checked against the shared signing vector by
// the app's browser test.
"use strict";

export function canonical(value) {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) {
      throw new Error("JSON has no NaN or infinity");
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
  return "{" + Object.keys(value).sort()
    .filter((k) => value[k] !== undefined)
    .map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
}

export function canonicalBytes(survey) {
  const rest = { ...survey };
  delete rest.signature;
  return new TextEncoder().encode(canonical(rest));
}

export function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s);
}

export async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

export async function contentDigest(survey) {
  return hex(await sha256(canonicalBytes(survey)));
}
