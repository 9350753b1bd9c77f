// 谁签字谁负责 in the browser: the reviewer's Ed25519 key is generated here by WebCrypto,
// non-extractable, and kept in IndexedDB; each decision is signed in the page before it is
// posted. The service rebuilds the same document from the form and verifies the signature
// (fieldsurvey_core::decision). Nothing here sends the private key anywhere: it cannot leave
// the browser.
"use strict";

const DB_NAME = "fieldsurvey-console";
const STORE = "keys";

function openStore() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function storeOp(mode, op) {
  const db = await openStore();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const req = op(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error);
  });
}

const loadKey = (user) => storeOp("readonly", (s) => s.get(user));
const saveKey = (user, record) => storeOp("readwrite", (s) => s.put(record, user));

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

// RFC 8785: ECMAScript's own JSON serialisation of strings and numbers, members sorted by
// UTF-16 code units (JavaScript's default sort order), no whitespace.
function canonical(v) {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
  return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
}

// Now, RFC 3339 with the browser's offset (Beijing: +08:00).
function nowWithOffset() {
  const d = new Date();
  const pad = (n) => String(Math.abs(n)).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
}

function setHidden(form, name, value) {
  let input = form.querySelector(`input[type=hidden][name="${name}"]`);
  if (!input) {
    input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    form.appendChild(input);
  }
  input.value = value;
}

function reviewReasons(form) {
  const reasons = [];
  for (const row of form.querySelectorAll(".reason")) {
    const action = row.querySelector("select").value;
    if (!action) continue;
    const r = { action };
    const field = row.querySelector("[name^=field]").value.trim();
    const note = row.querySelector("[name^=note]").value.trim();
    if (field) r.field = field;
    if (note) r.note = note;
    reasons.push(r);
  }
  return reasons;
}

// An approval's note (审核意见) is signed as one `keep` (留) reason.
function approvalReasons(form) {
  const note = form.approval_note ? form.approval_note.value.trim() : "";
  return note ? [{ action: "keep", note }] : [];
}

// The document of fieldsurvey_core::decision for this form and button.
function documentFor(form, action, seal) {
  const d = form.dataset;
  // The reason is signed exactly as it is posted.
  if (form.reason) form.reason.value = form.reason.value.trim();
  switch (d.sign) {
    case "review":
      return {
        action, submission_id: d.subject, content_digest: d.digest,
        reasons: action === "approve" ? approvalReasons(form) : reviewReasons(form), ...seal,
      };
    case "spot_check":
      return { action, submission_id: d.subject, content_digest: d.digest, reason: form.reason.value, ...seal };
    case "clue_close": {
      const doc = { action: "close", clue_id: d.subject, reason: form.reason.value, ...seal };
      // The rectification's photos (SHA-256s) are signed too, when there are any.
      const evidence = form.evidence ? form.evidence.value.split(/[\s,，]+/).filter(Boolean) : [];
      if (evidence.length) doc.evidence = evidence;
      return doc;
    }
    case "clue_confirm":
      return { action, clue_id: d.subject, reason: form.reason.value, ...seal };
    case "clue_enter": {
      // fieldsurvey_core::decision::clue_enter_document: text trimmed, a blank optional
      // member null, the photos as the service splits them.
      const value = (name) => (form.elements[name] ? form.elements[name].value.trim() : "");
      for (const name of ["description", "household_code"]) {
        if (form.elements[name]) form.elements[name].value = value(name);
      }
      return {
        action: "enter", clue_id: value("id"), source: value("source"), kind: value("kind"),
        description: value("description"), org: value("org"),
        household_code: value("household_code") || null, deadline: value("deadline") || null,
        severity: value("severity") || null,
        evidence: value("evidence").split(/[\s,，]+/).filter(Boolean), source_ref: null, ...seal,
      };
    }
  }
  throw new Error("unknown decision form " + d.sign);
}

function say(form, text) {
  let p = form.querySelector(".sign-status");
  if (!p) {
    p = document.createElement("p");
    p.className = "sign-status notice";
    form.appendChild(p);
  }
  p.textContent = text;
}

async function signAndPost(form, submitter) {
  const user = form.dataset.signer;
  const record = await loadKey(user);
  const live = (form.dataset.keys || "").split(" ").filter(Boolean);
  if (!record || !live.includes(record.keyId)) {
    say(form, "本浏览器还没有您登记过的签名密钥：请先到“签名密钥”页用登记码登记，再作决定。");
    return;
  }
  const action = submitter ? submitter.value : "close";
  if (action === "approve" && form.dataset.needsNote === "1" && approvalReasons(form).length === 0) {
    say(form, "这一版有未达标的指标或标记：请先在“审核意见”中写明为何通过，再签字。");
    form.approval_note.focus();
    return;
  }
  const seal = { decided_at: nowWithOffset(), key_id: record.keyId, signer: user };
  const doc = documentFor(form, action, seal);
  const bytes = new TextEncoder().encode(canonical(doc));
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, record.privateKey, bytes);
  setHidden(form, "decision", action);
  setHidden(form, "decided_at", seal.decided_at);
  setHidden(form, "key_id", seal.key_id);
  setHidden(form, "signature", b64url(signature));
  if (doc.reasons) setHidden(form, "reasons", JSON.stringify(doc.reasons));
  form.dataset.signed = "1";
  HTMLFormElement.prototype.submit.call(form);
}

async function enrol(form) {
  const user = form.dataset.signer;
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  const keyId = "k_" + hex(await crypto.subtle.digest("SHA-256", raw)).slice(0, 16);
  // Kept aside until the service confirms the enrolment: a refused code must not replace a
  // key that already works.
  await saveKey("pending:" + user, { keyId, privateKey: pair.privateKey, publicKey: b64url(raw) });
  setHidden(form, "public_key", b64url(raw));
  HTMLFormElement.prototype.submit.call(form);
}

async function showLocalKey() {
  const el = document.getElementById("browser-key");
  if (!el) return;
  const user = el.dataset.signer;
  const live = (el.dataset.keys || "").split(" ").filter(Boolean);
  // The page after an enrolment names the key enrolled: the pending key becomes this
  // browser's key only if it is that one and the service lists it as live.
  const enrolled = new URLSearchParams(location.search).get("enrolled");
  const pending = await loadKey("pending:" + user);
  if (pending && pending.keyId === enrolled && live.includes(enrolled)) {
    await saveKey(user, pending);
    await storeOp("readwrite", (s) => s.delete("pending:" + user));
  }
  const record = await loadKey(user);
  el.textContent = !record
    ? "本浏览器还没有签名密钥。"
    : live.includes(record.keyId)
      ? `本浏览器的签名密钥 ${record.keyId} 已登记，可以签字。`
      : `本浏览器的签名密钥 ${record.keyId} 尚未登记（或已吊销）。`;
  el.dataset.keyId = record ? record.keyId : "";
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.sign && !form.dataset.signed) {
    event.preventDefault();
    signAndPost(form, event.submitter).catch((e) => say(form, "签名失败：" + e.message));
  } else if (form.dataset.enrol !== undefined) {
    event.preventDefault();
    enrol(form).catch((e) => say(form, "生成密钥失败：" + e.message));
  }
});

// The photo viewer: ← and → turn the photos, Esc goes back to the record (links with
// rel=prev, next and up; nothing happens while typing in a field).
document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest && event.target.closest("input, textarea, select")) return;
  const rel = { ArrowLeft: "prev", ArrowRight: "next", Escape: "up" }[event.key];
  const link = rel && document.querySelector(`.viewer-nav a[rel=${rel}]`);
  if (link) {
    event.preventDefault();
    location.href = link.href;
  }
});

document.addEventListener("DOMContentLoaded", () => {
  showLocalKey().catch(() => {});
});
