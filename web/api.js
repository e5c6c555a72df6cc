// The PhysEdit API as the page calls it: same origin, the key (when the server has keys) from
// session storage, errors in the API's own words.

const KEY = "physedit.key";

export function getKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setKey(k) {
  if (k) sessionStorage.setItem(KEY, k);
  else sessionStorage.removeItem(KEY);
}

/** An API error: the API's message, the field at fault (`param`), its code and HTTP status. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `the server answered ${status}`);
    this.status = status;
    this.param = e.param || null;
    this.code = e.code || null;
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  const k = getKey();
  if (k) h.Authorization = `Bearer ${k}`;
  return h;
}

async function fail(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  return new ApiError(resp.status, body);
}

/** GET or POST, answering the parsed JSON or throwing an ApiError. */
export async function call(path, { method = "GET", json, form, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form;
  }
  const resp = await fetch(path, init);
  if (!resp.ok) throw await fail(resp);
  return resp.json();
}

/** A picture (or any file) of the API as a Blob (pictures need the key, so no plain <img src>). */
export async function blob(path) {
  const resp = await fetch(path, { headers: headers() });
  if (!resp.ok) throw await fail(resp);
  return resp.blob();
}

/** Follows a job's server-sent events; calls onStatus with each status; resolves with the last. */
export async function follow(id, onStatus, signal) {
  const resp = await fetch(`/v1/edits/${id}/events`, {
    headers: headers({ Accept: "text/event-stream" }),
    signal,
  });
  if (!resp.ok) throw await fail(resp);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let last = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of chunk.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (!data.length) continue;
      const v = JSON.parse(data.join("\n"));
      if (event === "error") throw new ApiError(500, v);
      if (event === "status") {
        last = v;
        onStatus(v);
      }
    }
  }
  return last;
}
