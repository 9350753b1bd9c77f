// The field app: sign in, enrol this phone's key, see the households assigned to you (unvisited
// first), fill a survey with photos, sign it on the phone and keep it in the outbox; it is sent
// when there is a connection (now, on the next `online`, or by the service worker's background
// sync) and followed until it is final — with every reason when it is rejected or returned,
// and a correction made from the returned survey.
"use strict";

import * as api from "./api.js";
import * as store from "./store.js";
import * as outbox from "./outbox.js";
import { enrol, keyOf, signSurvey } from "./keys.js";
import { hex, sha256 } from "./jcs.js";
import { el, fieldWords, render as renderForm } from "./form.js";

const $ = (sel) => document.querySelector(sel);
const main = () => $("#main");

function say(text, kind = "notice") {
  const p = $("#message");
  p.textContent = text;
  p.className = kind;
  p.hidden = !text;
}

function showOnline() {
  const on = navigator.onLine;
  const s = $("#online-state");
  s.textContent = on ? "在线" : "离线（调查保存在手机上，有网时自动发送）";
  s.className = on ? "online" : "offline";
}

async function signInView() {
  main().replaceChildren(el("form", { id: "login", class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api.login($("#username").value.trim(), $("#password").value);
      say("");
      await start();
    } catch (err) {
      say(navigator.onLine ? err.message : "登录需要网络：请到有信号的地方再试。", "error");
    }
  } },
  el("h2", {}, "登录"),
  el("label", {}, "账号", el("input", { id: "username", autocomplete: "username", required: true })),
  el("label", {}, "密码", el("input", { id: "password", type: "password", autocomplete: "current-password", required: true })),
  el("button", { id: "sign-in", class: "primary" }, "登录")));
}

async function enrolView(session) {
  main().replaceChildren(el("form", { id: "enrol-form", class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const key = await enrol(session.username, $("#code").value);
      say(`本机签名密钥 ${key.keyId} 已登记：以后每份调查都由它在手机上签名。`);
      await start();
    } catch (err) {
      say(err.message, "error");
    }
  } },
  el("h2", {}, "登记本机签名密钥"),
  el("p", {}, "谁核实、谁签字、谁负责：调查在手机上用您本人的密钥签名。请输入乡镇审核员或管理员给您的一次性登记码。"),
  el("label", {}, "登记码", el("input", { id: "code", autocomplete: "off", placeholder: "XXXX-XXXX-XXXX", required: true })),
  el("button", { id: "enrol", class: "primary" }, "生成并登记密钥")));
}

async function loadHouseholds() {
  try {
    // A grid is 30–50 households: a few pages at most.
    const items = [];
    for (let page = 1; page <= 20; page++) {
      const answer = await api.call(`/api/v1/assignments?page=${page}`);
      items.push(...(answer.items || []));
      if (!answer.has_more) break;
    }
    await store.clear("households");
    for (const h of items) await store.put("households", h);
  } catch (_) {
    // Offline or not offered: the list kept from last time.
  }
  return store.all("households");
}

async function drawHouseholds(session, key) {
  const list = $("#households-list");
  if (!list) return;
  const households = await store.all("households");
  list.replaceChildren(...(households.length
      ? households.map((h) => el("li", {},
          el("button", { type: "button", class: "household", "data-code": h.household_code,
            onclick: () => surveyView(session, key, { household_code: h.household_code }) },
          el("strong", {}, h.head_name || h.household_code), " ",
          el("span", {}, h.household_code), " ",
          el("small", { class: h.visited ? "visited" : "unvisited" },
            h.latest ? outbox.STATE_NAMES[h.latest.status] || h.latest.status : "未走访"))))
      : [el("li", {}, "还没有分配给您的农户（或尚未下载）。也可以直接新建调查。")]));
}

async function homeView(session, key) {
  window.scrollTo(0, 0);
  const list = el("ul", { class: "households", id: "households-list" });
  main().replaceChildren(
    el("section", { class: "card" },
      el("div", { class: "actions" },
        el("button", { id: "new-survey", class: "primary", onclick: () => surveyView(session, key, {}) }, "新建调查"),
        el("button", { id: "send-now", onclick: () => sync(true) }, "立即发送"),
        el("button", { id: "refresh-households", onclick: async () => { await loadHouseholds(); drawHouseholds(session, key); } }, "更新农户名单"))),
    el("section", { class: "card" }, el("h2", {}, "发件箱"), el("ul", { id: "outbox", class: "outbox" })),
    el("section", { class: "card" }, el("h2", {}, "我负责的农户"), list));
  await drawHouseholds(session, key);
  await drawOutbox(session, key);
}

async function drawOutbox(session, key) {
  const ul = $("#outbox");
  if (!ul) return;
  const items = await outbox.entries();
  ul.replaceChildren(...(items.length ? items.map((e) => {
    const state = outbox.STATE_NAMES[e.state] || e.state;
    const progress = e.state === "sending" ? `${e.progress || 0}%` : "";
    return el("li", { class: "entry " + e.state, "data-id": e.id, "data-state": e.state },
      el("div", {}, el("strong", {}, e.survey.household_code), " ",
        el("span", { class: "state" }, state), " ", el("span", { class: "progress" }, progress)),
      e.error ? el("small", { class: "error-text" }, e.error) : "",
      e.reasons && e.reasons.length
        ? el("ul", { class: "reasons" }, e.reasons.map((r) => el("li", {}, typeof r === "string" ? r : reasonText(r, e.survey))))
        : "",
      e.state === "returned"
        ? el("button", { type: "button", class: "correct", onclick: () => correctionOf(session, key, e) }, "更正后重新提交")
        : "");
  }) : [el("li", {}, "发件箱是空的。")]));
}

const ACTIONS = { keep: "留", correct: "纠", delete: "删", supplement: "补" };
function reasonText(r, survey) {
  return `${ACTIONS[r.action] || r.action}${r.field ? "：" + fieldWords(r.field, survey) : ""}${r.note ? "　" + r.note : ""}`;
}

function surveyView(session, key, prefill, photos) {
  window.scrollTo(0, 0);
  const section = el("section", { class: "card" });
  main().replaceChildren(
    el("button", { type: "button", class: "back", onclick: () => homeView(session, key) }, "← 返回"),
    section);
  store.all("households").then((households) => {
    renderForm(section, {
      households,
      prefill,
      prefillPhotos: photos,
      save: async (doc, taken) => {
        for (const p of taken) {
          p.sha256 = hex(await sha256(await p.blob.arrayBuffer()));
        }
        doc.photos = taken.map((p) => ({ part: p.part, kind: p.kind, sha256: p.sha256 }));
        const signed = await signSurvey(doc, key);
        await outbox.add({
          id: doc.id,
          username: session.username,
          created: new Date().toISOString(),
          survey: signed,
          photos: taken.map((p) => ({ part: p.part, kind: p.kind, blob: p.blob, name: p.name, sha256: p.sha256 })),
        });
        say(navigator.onLine ? "已签名保存，正在发送。" : "已签名保存在手机上，有网时自动发送。");
        await homeView(session, key);
        requestBackgroundSync();
        sync(true);
      },
    });
  });
}

/// A correction of a returned survey: the same answers and photos to start from, naming it.
function correctionOf(session, key, entry) {
  const prefill = { ...entry.survey, supersedes: entry.id };
  delete prefill.signature;
  const photos = entry.photos.map((p) => ({ kind: p.kind, blob: p.blob, name: p.name }));
  surveyView(session, key, prefill, photos);
}

async function requestBackgroundSync() {
  try {
    // `ready` never settles where the worker could not be registered: do not wait on it.
    const reg = await Promise.race([
      navigator.serviceWorker.ready,
      new Promise((_, no) => setTimeout(() => no(new Error("no worker")), 3000)),
    ]);
    if (reg.sync) await reg.sync.register("outbox");
  } catch (_) {
    // No background sync here: the page sends when it is open and online.
  }
}

let syncing = false;
let again = false;
async function sync(now = false) {
  if (!navigator.onLine && !now) return;
  if (syncing) {
    // Asked while a round runs: run another when it ends, so nothing asked for is dropped.
    again = again || now;
    return;
  }
  syncing = true;
  const redraw = async () => {
    const s = await api.signedIn();
    const k = s && (await keyOf(s.username));
    if (s && k) await drawOutbox(s, k);
  };
  try {
    const sent = await outbox.sendAll(redraw, now);
    await outbox.follow(redraw);
    if (sent > 0) {
      say(`已发送 ${sent} 份调查。`);
      await loadHouseholds();
      const s = await api.signedIn();
      const k = s && (await keyOf(s.username));
      if (s && k) await drawHouseholds(s, k);
    }
  } finally {
    syncing = false;
    await redraw();
  }
  if (again) {
    again = false;
    await sync(true);
  }
}

async function start() {
  showOnline();
  const session = await api.signedIn();
  if (!session) return signInView();
  $("#who").textContent = session.username;
  const key = await keyOf(session.username);
  if (!key) return enrolView(session);
  // Unsent surveys, photos and the key live in this browser's storage: ask that it not be
  // cleared under storage pressure.
  if (navigator.storage && navigator.storage.persist) {
    navigator.storage.persisted().then((yes) => yes || navigator.storage.persist()).then((yes) => {
      const note = $("#storage-note");
      note.hidden = yes;
      note.textContent = yes ? "" : "提示：浏览器未承诺长期保存本应用的数据，请尽快发送调查，勿清理浏览器数据。";
    }).catch(() => {});
  }
  await homeView(session, key);
  await loadHouseholds();
  await drawHouseholds(session, key);
  sync();
}

window.addEventListener("online", () => { showOnline(); sync(true); });
window.addEventListener("offline", showOnline);
setInterval(() => { if (document.visibilityState === "visible") sync(); }, 20_000);
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/app/sw.js", { type: "module", scope: "/app/" }).catch(() => {});
  navigator.serviceWorker.addEventListener("message", (ev) => {
    if (ev.data === "outbox-changed") sync();
  });
}
$("#sign-out").addEventListener("click", async () => { await api.logout(); start(); });
start().catch((err) => say(String(err.message || err), "error"));

// For the app's own browser test: the canonical bytes and signature of the shared vector.
window.fieldsurveyCheckVector = async (vector) => {
  const { canonicalBytes } = await import("./jcs.js");
  const { b64url } = await import("./jcs.js");
  const bytes = canonicalBytes(vector.document);
  const key = await crypto.subtle.importKey("jwk",
    { kty: "OKP", crv: "Ed25519", d: vector.private_key_b64url, x: vector.public_key_b64url },
    { name: "Ed25519" }, false, ["sign"]);
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, key, bytes);
  return { canonical: new TextDecoder().decode(bytes), digest: hex(await sha256(bytes)), signature: b64url(sig) };
};
