// This browser's edits: job id, prompt, recipe and a small thumbnail, in local storage (nothing
// leaves the browser). The pictures themselves stay on the server until the job's result expires.

const STORE = "physedit.history";
const MAX = 30;
const THUMB = 96;

export function load() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE) || "[]");
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function save(list) {
  try {
    localStorage.setItem(STORE, JSON.stringify(list.slice(0, MAX)));
  } catch {
    // Storage full or off: the history is a convenience, the edit itself is done.
  }
}

export function clear() {
  localStorage.removeItem(STORE);
}

/** A thumbnail (data: URL) of a picture blob. */
export async function thumbnail(blob) {
  const bmp = await createImageBitmap(blob);
  const s = THUMB / Math.max(bmp.width, bmp.height);
  const c = document.createElement("canvas");
  c.width = Math.max(1, Math.round(bmp.width * s));
  c.height = Math.max(1, Math.round(bmp.height * s));
  c.getContext("2d").drawImage(bmp, 0, 0, c.width, c.height);
  return c.toDataURL("image/png");
}

export function add(entry) {
  save([entry, ...load().filter((e) => e.id !== entry.id)]);
}
