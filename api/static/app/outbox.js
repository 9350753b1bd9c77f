// The outbox: surveys signed on the phone wait here, with their photos, until the service has
// them; then their state is followed until it is final. Sending is resumable (tus) and retried
// with growing waits; one sender at a time across the page and the service worker (Web Locks).
"use strict";

import * as store from "./store.js";
import { ApiError, call } from "./api.js";
import { upload } from "./tus.js";

/// States a survey goes through on the phone, in words.
export const STATE_NAMES = {
  waiting: "等待发送",
  sending: "发送中",
  refused: "未被接收",
  queued: "已送达，等待校验",
  signed_off: "已签核，等待审核",
  approved: "审核通过",
  rejected: "校验未通过",
  returned: "被退回，待更正",
  superseded: "已被更正版本取代",
  needs_attention: "已送达，服务处理中",
};

const FINAL = ["approved", "rejected", "superseded", "refused"];

/// Refusals of the survey that mean an upload it names must be sent again, not that the survey
/// is wrong.
const UPLOAD_CODES = ["unknown_upload", "upload_incomplete", "upload_expired", "upload_lost"];

export async function add(entry) {
  await store.put("outbox", { state: "waiting", tries: 0, progress: 0, ...entry });
}

/// The signed-in surveyor's entries, newest first (a shared phone keeps each person's apart:
/// a survey is sent only under the session of the person who signed it).
export async function entries() {
  const s = await store.get("kv", "session");
  const list = (await store.all("outbox")).filter((e) => s && e.username === s.username);
  return list.sort((a, b) => (b.created || "").localeCompare(a.created || ""));
}

/// Whether something of the signed-in surveyor's still waits to be sent.
export async function waiting() {
  return (await entries()).some((e) => ["waiting", "sending"].includes(e.state));
}

function waitFor(tries) {
  return Math.min(60_000, 2_000 * 2 ** Math.min(tries, 5));
}

async function sendOne(entry, changed) {
  await store.update(entry.id, (e) => { e.state = "sending"; e.error = null; });
  changed();
  const total = entry.photos.reduce((n, p) => n + p.blob.size, 0);
  let before = 0;
  const uploads = {};
  for (const [i, photo] of entry.photos.entries()) {
    if (!photo.upload_id) {
      const state = { url: photo.tus_url || null };
      const id = await upload(
        photo.blob,
        { filename: photo.name || photo.part, part: photo.part, submission: entry.id },
        state,
        async (s) => {
          await store.update(entry.id, (e) => { e.photos[i].tus_url = s.url; });
        },
        async (sent) => {
          const progress = Math.floor(((before + sent) / total) * 100);
          await store.update(entry.id, (e) => { e.progress = progress; });
          changed();
        },
      );
      photo.upload_id = id;
      await store.update(entry.id, (e) => { e.photos[i].upload_id = id; });
    }
    uploads[photo.part] = photo.upload_id;
    before += photo.blob.size;
  }
  try {
    const answer = await call("/api/v1/submissions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ survey: entry.survey, uploads }),
    });
    await store.update(entry.id, (e) => {
      e.state = answer.status || "queued";
      e.progress = 100;
      e.tries = 0;
      e.sent = new Date().toISOString();
      // A resend of what the service already judged answers with its state.
      if (answer.rejections && answer.rejections.length) e.reasons = answer.rejections.map((r) => r.message);
    });
  } catch (err) {
    const codes = err instanceof ApiError && err.problem && err.problem.errors
      ? err.problem.errors.map((e) => e.code) : [];
    if (codes.length && codes.every((c) => UPLOAD_CODES.includes(c))) {
      // An upload it names is gone or unfinished (expired while the phone was away): send the
      // photos again, then the survey.
      await store.update(entry.id, (e) => {
        for (const p of e.photos) { p.upload_id = null; p.tus_url = null; }
      });
      throw err;
    }
    if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 408 && err.status !== 429) {
      // The service read it and said no: sending it again would not change that.
      await store.update(entry.id, (e) => { e.state = "refused"; e.reasons = err.reasons.length ? err.reasons : [err.message]; });
    } else {
      throw err;
    }
  }
  changed();
}

/// Send what waits; each failure waits longer before its next try (`force`: try now all the
/// same — the surveyor asked, or the phone just came online). Returns how many were sent.
export async function sendAll(changed = () => {}, force = false) {
  const run = async () => {
    let sent = 0;
    for (const entry of await entries()) {
      if (!["waiting", "sending"].includes(entry.state)) continue;
      if (!force && entry.next_try && Date.parse(entry.next_try) > Date.now()) continue;
      try {
        await sendOne(entry, changed);
        sent += 1;
      } catch (err) {
        await store.update(entry.id, (e) => {
          e.state = "waiting";
          e.tries = (e.tries || 0) + 1;
          // A request that never got an answer (fetch's TypeError) is the line, not the survey.
          e.error = navigator.onLine === false ? "没有网络，有网时自动发送"
            : err instanceof TypeError ? "连接中断，稍后自动重试" : String(err.message || err);
          e.next_try = new Date(Date.now() + waitFor(e.tries)).toISOString();
        });
        changed();
        if (err instanceof ApiError && err.status === 401) break;
      }
    }
    return sent;
  };
  if (self.navigator && navigator.locks) {
    return navigator.locks.request("fieldsurvey-outbox", { ifAvailable: true }, (lock) => (lock ? run() : 0));
  }
  return run();
}

/// Follow what the service has: its status, the reasons of a rejection or a return.
export async function follow(changed = () => {}) {
  const open = (await entries()).filter((e) => e.sent && !FINAL.includes(e.state));
  if (!open.length) return;
  let returned = null;
  for (const entry of open) {
    let s;
    try {
      s = await call(`/api/v1/submissions/${entry.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) continue;
      return;
    }
    let reasons = entry.reasons || [];
    if (s.status === "rejected") {
      reasons = (s.rejections || []).map((r) => r.message);
    } else if (s.status === "returned") {
      if (!returned) {
        returned = await call("/api/v1/submissions?status=returned").catch(() => ({ items: [] }));
      }
      const item = (returned.items || []).find((i) => i.id === entry.id);
      reasons = item ? item.reasons : reasons;
    }
    await store.update(entry.id, (e) => {
      e.state = s.status;
      e.reasons = reasons;
      e.flags = (s.flags || []).map((f) => f.message);
    });
    changed();
  }
}
