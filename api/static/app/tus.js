// A tus 1.0.0 client (creation, checksum, expiration): a photo is sent in chunks, each with its
// SHA-256, and after any break the upload goes on from the offset the service says it holds —
// a photo cut off at 90% over a 2G link sends the last 10%, not all of it again.
"use strict";

import { call } from "./api.js";
import { b64, sha256 } from "./jcs.js";

const TUS = { "Tus-Resumable": "1.0.0" };
/// Small enough that a break costs little, large enough that a good link is not slowed.
export const CHUNK = 64 * 1024;

function metadata(meta) {
  return Object.entries(meta)
    .map(([k, v]) => `${k} ${b64(new TextEncoder().encode(String(v)))}`)
    .join(",");
}

async function create(blob, meta) {
  const r = await call("/api/v1/uploads", {
    method: "POST",
    raw: true,
    headers: { ...TUS, "Upload-Length": String(blob.size), "Upload-Metadata": metadata(meta) },
  });
  if (r.status !== 201) throw await failure(r);
  const location = r.headers.get("Location");
  if (!location) throw new Error("服务没有给出上传地址");
  return new URL(location, self.location.origin).pathname;
}

async function offsetOf(url) {
  const r = await call(url, { method: "HEAD", raw: true, headers: TUS });
  if (r.status === 404 || r.status === 410) return null;
  if (!r.ok) throw await failure(r);
  return Number(r.headers.get("Upload-Offset"));
}

async function failure(r) {
  let text = `上传失败（${r.status}）`;
  try {
    const p = await r.json();
    text = (p.errors && p.errors.map((e) => e.message).join("；")) || p.detail || p.title || text;
  } catch (_) { /* no body */ }
  const e = new Error(text);
  e.status = r.status;
  return e;
}

/// Send `blob`; `state.url` is the upload's address once made (kept by the caller with
/// `save`, so a restart resumes too). `progress(sent, total)` as it goes. Returns the upload's
/// id (the last segment of its address).
export async function upload(blob, meta, state, save, progress, attempt = 0) {
  // A damaged or out-of-step chunk is asked again a few times; past that the outbox's waits
  // take over (a link that damages every chunk is not helped by hurrying).
  if (attempt > 4) throw new Error("上传多次未成功，稍后自动重试");
  let offset = null;
  if (state.url) offset = await offsetOf(state.url);
  if (offset === null) {
    // Never made, or expired and collected: start a new one.
    state.url = await create(blob, meta);
    await save(state);
    offset = 0;
  }
  progress(offset, blob.size);
  while (offset < blob.size) {
    const chunk = blob.slice(offset, Math.min(offset + CHUNK, blob.size));
    const bytes = await chunk.arrayBuffer();
    const r = await call(state.url, {
      method: "PATCH",
      raw: true,
      headers: {
        ...TUS,
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": String(offset),
        "Upload-Checksum": "sha256 " + b64(await sha256(bytes)),
      },
      body: bytes,
    });
    if (r.status === 204 || r.status === 200) {
      offset = Number(r.headers.get("Upload-Offset"));
    } else if (r.status === 409 || r.status === 460) {
      // Our idea of the offset was wrong, or the chunk was damaged on the way: ask again.
      const held = await offsetOf(state.url);
      attempt += 1;
      if (attempt > 4) throw new Error("上传多次未成功，稍后自动重试");
      if (held === null) {
        state.url = null;
        await save(state);
        return upload(blob, meta, state, save, progress, attempt);
      }
      offset = held;
    } else if (r.status === 404 || r.status === 410) {
      state.url = null;
      await save(state);
      return upload(blob, meta, state, save, progress, attempt + 1);
    } else {
      throw await failure(r);
    }
    progress(offset, blob.size);
  }
  return state.url.split("/").pop();
}
