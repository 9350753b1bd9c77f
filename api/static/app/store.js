// What the phone keeps, in IndexedDB: the session, the signing key (a non-extractable
// CryptoKey: the private key cannot leave this browser), the assigned households, and the
// outbox — every survey with its photos as taken (the original bytes, EXIF intact) until the
// service has it, and its state after. Used by the page and by the service worker.
"use strict";

const DB = "fieldsurvey-app";
const VERSION = 1;

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore("kv");
      db.createObjectStore("outbox", { keyPath: "id" });
      db.createObjectStore("households", { keyPath: "household_code" });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

let opened = null;
function db() {
  if (!opened) opened = open();
  return opened;
}

async function op(store, mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(store, mode);
    const req = fn(tx.objectStore(store));
    tx.oncomplete = () => resolve(req ? req.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("存储失败（手机空间可能不足）"));
  });
}

export const get = (store, key) => op(store, "readonly", (s) => s.get(key));
export const all = (store) => op(store, "readonly", (s) => s.getAll());
export const put = (store, value, key) =>
  op(store, "readwrite", (s) => (key === undefined ? s.put(value) : s.put(value, key)));
export const del = (store, key) => op(store, "readwrite", (s) => s.delete(key));
export const clear = (store) => op(store, "readwrite", (s) => s.clear());

/// Change one outbox entry in place (read, change, write in one transaction).
export async function update(id, change) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction("outbox", "readwrite");
    const s = tx.objectStore("outbox");
    let result;
    const req = s.get(id);
    req.onsuccess = () => {
      if (!req.result) return;
      result = change(req.result) || req.result;
      s.put(result);
    };
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("存储失败（手机空间可能不足）"));
  });
}
