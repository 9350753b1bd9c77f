// The app's service worker: the shell is kept in a cache named by its release, so the app
// opens with no signal; the API is never cached (it is the network's or nothing). Background
// sync sends the outbox when the phone finds a connection, even with the app closed.
"use strict";

import { follow, sendAll, waiting } from "./outbox.js";

const CACHE = "fieldsurvey-app-__RELEASE__";
const SHELL = ["/app/", "/app/app.css", "/app/app.js", "/app/api.js", "/app/store.js", "/app/jcs.js",
  "/app/keys.js", "/app/form.js", "/app/outbox.js", "/app/tus.js", "/app/manifest.webmanifest", "/app/icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("fieldsurvey-app-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/app/")) {
    return;
  }
  // The shell from this release's cache first (it cannot be stale: a new release is a new
  // worker with a new cache), so the app opens at once on a link that hangs; the network only
  // for what the cache lacks.
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const kept = await cache.match(event.request, { ignoreSearch: true });
    if (kept) return kept;
    try {
      const fresh = await fetch(event.request);
      if (fresh.ok) cache.put(event.request, fresh.clone());
      return fresh;
    } catch (_) {
      return new Response("离线，且本机没有这一页的副本。", { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
    }
  })());
});

self.addEventListener("sync", (event) => {
  if (event.tag === "outbox") {
    event.waitUntil((async () => {
      await sendAll(() => {}, true);
      await follow();
      for (const c of await self.clients.matchAll()) c.postMessage("outbox-changed");
      // Still waiting (the line dropped again): fail, so the browser tries again later.
      if (await waiting()) throw new Error("outbox still waiting");
    })());
  }
});
