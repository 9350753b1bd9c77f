// The service's API as the app uses it: the bearer token kept in the phone's store, refreshed
// once when it has expired, and problem answers (RFC 9457) turned into their Chinese messages.
"use strict";

import * as store from "./store.js";

export class ApiError extends Error {
  constructor(status, problem) {
    const reasons = (problem && problem.errors ? problem.errors : []).map((e) => e.message).filter(Boolean);
    super(reasons.length ? reasons.join("；") : (problem && (problem.detail || problem.title)) || `服务答复 ${status}`);
    this.status = status;
    this.problem = problem;
    this.reasons = reasons;
  }
}

async function session() {
  return (await store.get("kv", "session")) || null;
}

/// A new token pair, once, however many requests found the old one expired at the same time
/// (page and service worker alike): the service revokes every token of a family when a spent
/// refresh token is shown again, so two refreshes with one token would sign the surveyor out.
async function refresh(stale) {
  const run = async () => {
    const now = await session();
    if (!now) return null;
    // Someone refreshed while we waited: use theirs.
    if (now.access_token !== stale.access_token) return now;
    return refreshWith(now);
  };
  if (self.navigator && navigator.locks) {
    return navigator.locks.request("fieldsurvey-refresh", run);
  }
  return run();
}

async function refreshWith(s) {
  const r = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: s.refresh_token }),
  });
  if (!r.ok) return null;
  const t = await r.json();
  const next = { ...s, access_token: t.access_token, refresh_token: t.refresh_token };
  await store.put("kv", next, "session");
  return next;
}

/// A request with the session's token; `init.raw` returns the Response instead of its JSON.
export async function call(path, init = {}) {
  let s = await session();
  if (!s) throw new ApiError(401, { title: "请先登录" });
  const send = (tok) => fetch(path, {
    ...init,
    headers: { ...(init.headers || {}), Authorization: `Bearer ${tok}` },
  });
  let r = await send(s.access_token);
  if (r.status === 401) {
    s = await refresh(s);
    if (!s) {
      throw new ApiError(401, { title: "登录已过期，请重新登录（已保存的调查不会丢失）" });
    }
    r = await send(s.access_token);
  }
  if (init.raw) return r;
  const type = r.headers.get("content-type") || "";
  const body = type.includes("json") ? await r.json() : null;
  if (!r.ok) throw new ApiError(r.status, body);
  return body;
}

export async function login(username, password) {
  const r = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : null;
  if (!r.ok) throw new ApiError(r.status, body);
  const s = { username, access_token: body.access_token, refresh_token: body.refresh_token };
  await store.put("kv", s, "session");
  return s;
}

export async function signedIn() {
  return session();
}

/// Sign out: the session and the downloaded household list go; the outbox stays (each entry
/// is its own surveyor's, sent only under their session) and so does the phone's key.
export async function logout() {
  await store.del("kv", "session");
  await store.clear("households");
}
