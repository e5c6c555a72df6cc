// The PhysEdit page: a picture, an instruction, the plan CARD chooses, the edit with live
// progress, and the result (before/after, SRM mask, reasoning frames, what ran).
import { ApiError, blob, call, follow, getKey, setKey } from "./api.js";
import { MaskPainter } from "./mask.js";
import * as history from "./history.js";

const $ = (id) => document.getElementById(id);

const FIELDS = ["image", "prompt", "mask", "recipe", "steps", "guidance", "seed", "lora", "key"];

const state = {
  picture: null, // { blob, name, url, width, height }
  plan: null,
  job: null,
  abort: null,
  result: null, // { id, blob, url }
  frames: [],
  recipes: [],
};

const painter = new MaskPainter($("mask-canvas"));

// ---- errors: the API's words, next to the field at fault ----

function clearErrors() {
  for (const f of [...FIELDS, "edit"]) setError(f, "");
}

function setError(field, message) {
  const el = $(`err-${field}`);
  if (!el) return;
  el.textContent = message;
  const input = $(field);
  if (input) {
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
}

/** Shows an error where it belongs: its `param`'s field, else next to the Edit button. */
function showError(e, fallback = "edit") {
  const message = e instanceof ApiError ? e.message : `${e.message || e}`;
  if (e instanceof ApiError && e.status === 401) {
    askKey(message);
    return;
  }
  const field = e instanceof ApiError && FIELDS.includes(e.param) ? e.param : fallback;
  setError(field, message);
}

// ---- the key ----

function askKey(message) {
  $("key-panel").hidden = false;
  setError("key", message || "");
  $("key").focus();
}

$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  setKey($("key").value.trim());
  $("key").value = "";
  connect();
});

$("key-change").addEventListener("click", () => askKey(""));

async function connect() {
  try {
    const models = await call("/v1/models");
    const recipes = await call("/v1/recipes");
    $("key-panel").hidden = true;
    setError("key", "");
    $("key-change").hidden = !getKey();
    $("server-status").textContent = `Model: ${models.data.map((m) => m.id).join(", ")}`;
    fillRecipes(recipes.data);
    schedulePlan();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      $("server-status").textContent = "This server needs an API key.";
      askKey(getKey() ? e.message : "");
    } else {
      $("server-status").textContent = `The server cannot be reached: ${e.message}`;
    }
  }
}

function fillRecipes(list) {
  state.recipes = list;
  const sel = $("recipe");
  const keep = sel.value;
  sel.replaceChildren(
    ...list.map((r) => {
      const o = document.createElement("option");
      o.value = r.id;
      o.textContent = r.id;
      if (keep ? r.id === keep : r.default) o.selected = true;
      return o;
    }),
  );
  describeRecipe();
}

function describeRecipe() {
  const r = state.recipes.find((x) => x.id === $("recipe").value);
  $("recipe-help").textContent = r
    ? r.description + (r.needs_distillation_lora ? " Needs the distillation LoRA." : "")
    : "";
}

$("recipe").addEventListener("change", () => {
  describeRecipe();
  setError("recipe", "");
  schedulePlan();
});

// ---- the picture ----

function humanBytes(n) {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

async function setPicture(file, name) {
  clearErrors();
  if (state.picture) URL.revokeObjectURL(state.picture.url);
  const url = URL.createObjectURL(file);
  state.picture = { blob: file, name: name || file.name || "picture.png", url, width: 0, height: 0 };
  const img = $("preview-img");
  $("preview").hidden = false;
  $("drop").classList.add("has-picture");
  img.src = url;
  try {
    await img.decode();
    state.picture.width = img.naturalWidth;
    state.picture.height = img.naturalHeight;
    painter.reset(img.naturalWidth, img.naturalHeight);
    $("mask-canvas").hidden = false;
    showPictureInfo();
  } catch {
    $("mask-canvas").hidden = true;
    $("image-info").textContent = `${state.picture.name}, ${humanBytes(file.size)}: this browser cannot show it; the server will say whether it can edit it.`;
  }
  updateMaskInfo();
  schedulePlan();
}

function showPictureInfo() {
  const p = state.picture;
  if (!p || !p.width) return;
  let text = `${p.name}: ${p.width}×${p.height} px, ${humanBytes(p.blob.size)}`;
  if (state.plan) {
    const w = state.plan.working_size;
    text += `; the model works at ${w.width}×${w.height}`;
  }
  $("image-info").textContent = text;
}

$("image").addEventListener("change", (e) => {
  const f = e.target.files[0];
  if (f) setPicture(f);
});

const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const f = e.dataTransfer.files[0];
  if (f) setPicture(f);
});
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.kind === "file");
  if (item) {
    e.preventDefault();
    setPicture(item.getAsFile(), "pasted.png");
  }
});

// ---- the mask ----

function updateMaskInfo() {
  const info = $("mask-info");
  if (painter.uploaded) info.textContent = `Mask: ${painter.uploaded.name} (its transparent pixels may change).`;
  else if (painter.painted) info.textContent = "Mask: the painted areas may change; the rest is kept.";
  else info.textContent = "No mask: the whole picture may change.";
}

$("mask-draw").addEventListener("click", () => {
  const on = $("mask-draw").getAttribute("aria-pressed") !== "true";
  $("mask-draw").setAttribute("aria-pressed", String(on));
  $("mask-draw").textContent = on ? "Stop drawing" : "Draw a mask";
  painter.setEnabled(on);
});
$("mask-brush").addEventListener("input", (e) => (painter.brush = Number(e.target.value)));
$("mask-clear").addEventListener("click", () => {
  painter.clear();
  $("mask-file").value = "";
  setError("mask", "");
  updateMaskInfo();
});
$("mask-centre").addEventListener("click", () => {
  if (!state.picture?.width) {
    setError("mask", "Choose a picture first.");
    return;
  }
  painter.centre();
  updateMaskInfo();
});
$("mask-file").addEventListener("change", (e) => {
  const f = e.target.files[0];
  if (f) painter.useFile(f);
  setError("mask", "");
  updateMaskInfo();
});
$("mask-canvas").addEventListener("pointerup", updateMaskInfo);

// ---- the plan, as the instruction is typed ----

let planTimer = 0;
let planSeq = 0;

function schedulePlan() {
  clearTimeout(planTimer);
  planTimer = setTimeout(fetchPlan, 250);
}

$("prompt").addEventListener("input", () => {
  setError("prompt", "");
  schedulePlan();
});

function pflop(f) {
  return f >= 1e15 ? `${(f / 1e15).toFixed(2)} PFLOP` : f >= 1e12 ? `${(f / 1e12).toFixed(2)} TFLOP` : `${(f / 1e9).toFixed(2)} GFLOP`;
}

async function fetchPlan() {
  const prompt = $("prompt").value;
  if (!prompt.trim()) {
    $("plan-facts").hidden = true;
    $("plan-summary").textContent = "Type an instruction to see the plan CARD chooses.";
    return;
  }
  const seq = ++planSeq;
  const body = { prompt, recipe: $("recipe").value || undefined };
  if (state.picture?.width) {
    body.image_width = state.picture.width;
    body.image_height = state.picture.height;
  }
  try {
    const p = await call("/v1/plan", { method: "POST", json: body });
    if (seq !== planSeq) return;
    state.plan = p;
    showPlan(p);
    showPictureInfo();
  } catch (e) {
    if (seq === planSeq) showError(e, "prompt");
  }
}

function showPlan(p) {
  const plan = p.plan;
  $("plan-summary").textContent = plan.reason;
  $("plan-tier").textContent = plan.tier;
  $("plan-category").textContent = plan.category;
  $("plan-frames").textContent = `${plan.reasoning_frames}${plan.srm ? " (SRM on)" : ""}`;
  $("plan-rsteps").textContent = `${plan.reasoning_steps} of ${plan.steps}`;
  $("plan-steps").textContent = `${plan.steps}, guidance ${plan.guidance}`;
  $("plan-flops").textContent = `${pflop(p.cost.total)} at ${p.working_size.width}×${p.working_size.height}: ${p.speedup_vs_reasoning.toFixed(2)}× fewer than chronoedit-reasoning`;
  $("plan-facts").hidden = false;
}

// ---- the edit ----

async function buildForm() {
  const f = new FormData();
  f.append("image", state.picture.blob, state.picture.name);
  f.append("prompt", $("prompt").value);
  if ($("recipe").value) f.append("recipe", $("recipe").value);
  for (const k of ["steps", "guidance", "seed", "lora"]) {
    const v = $(k).value.trim();
    if (v !== "") f.append(k, v);
  }
  const mask = await painter.toBlob();
  if (mask) f.append("mask", mask, "mask.png");
  f.append("response_format", "url");
  return f;
}

function reasoningSteps(plan, steps) {
  if (!plan || !plan.reasoning_steps || !steps) return 0;
  const from = Math.max(1, plan.steps);
  const scaled = Math.floor((2 * plan.reasoning_steps * steps + from) / (2 * from));
  return Math.min(Math.max(scaled, 1), steps);
}

function secs(s) {
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Progress of a job: the phase, step i of N, elapsed and estimated time left. */
class Clock {
  constructor() {
    this.t0 = performance.now();
    this.firstStep = null;
  }

  describe(s) {
    const now = performance.now();
    const elapsed = (now - this.t0) / 1000;
    const { step, steps } = s.progress;
    if (s.status === "queued") {
      const pos = s.queue_position != null ? `, ${s.queue_position} ahead` : "";
      return { text: `Queued${pos} (${secs(elapsed)})`, value: 0 };
    }
    if (s.status !== "running") return { text: s.status, value: 1 };
    if (!steps || step === 0) return { text: `Encoding the picture and the instruction (${secs(elapsed)})`, value: 0 };
    if (this.firstStep === null) this.firstStep = { t: now, step };
    let left = "";
    if (step > this.firstStep.step) {
      const per = (now - this.firstStep.t) / 1000 / (step - this.firstStep.step);
      left = `, about ${secs(per * (steps - step))} left`;
    }
    if (step >= steps) return { text: `Decoding the picture (${secs(elapsed)})`, value: 1 };
    const nr = reasoningSteps(s.plan, steps / (s.n || 1));
    const i = step + 1;
    const phase = i <= nr ? `Reasoning step ${i} of ${nr} — step ${i} of ${steps}` : `Step ${i} of ${steps}`;
    return { text: `${phase} (${secs(elapsed)} elapsed${left})`, value: step / steps };
  }
}

function showProgress(s, clock) {
  const d = clock.describe(s);
  $("progress").value = d.value;
  $("progress-text").textContent = d.text;
}

function busy(on) {
  $("edit").disabled = on;
  $("cancel").hidden = !on;
  $("progress-box").hidden = false;
}

async function runEdit() {
  clearErrors();
  if (!state.picture) {
    setError("image", "Choose a picture first.");
    $("image").focus();
    return;
  }
  if (!$("prompt").value.trim()) {
    setError("prompt", "Say what the edit should do.");
    $("prompt").focus();
    return;
  }
  busy(true);
  const clock = new Clock();
  $("progress-text").textContent = "Sending the picture…";
  $("progress").value = 0;
  state.abort = new AbortController();
  try {
    const job = await call("/v1/edits", { method: "POST", form: await buildForm() });
    state.job = job;
    showProgress(job, clock);
    const last = await follow(job.id, (s) => showProgress(s, clock), state.abort.signal);
    const done = last && last.status !== "succeeded" ? last : await call(`/v1/edits/${job.id}`);
    if (done.status === "succeeded") {
      $("progress-text").textContent = `Done in ${secs((performance.now() - clock.t0) / 1000)}.`;
      $("progress").value = 1;
      await showResult(done, state.picture.blob, true);
    } else if (done.status === "failed") {
      setError("edit", done.error?.message || "The edit failed.");
      $("progress-text").textContent = "Failed.";
    } else {
      $("progress-text").textContent = `The edit was ${done.status}.`;
    }
  } catch (e) {
    if (e.name === "AbortError") $("progress-text").textContent = "Cancelled.";
    else {
      $("progress-text").textContent = "";
      showError(e);
    }
  } finally {
    busy(false);
    state.abort = null;
  }
}

$("edit").addEventListener("click", runEdit);
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) runEdit();
});

$("cancel").addEventListener("click", async () => {
  const id = state.job?.id;
  try {
    if (id) await call(`/v1/edits/${id}`, { method: "DELETE" });
  } catch (e) {
    showError(e);
  }
  state.abort?.abort();
});

// ---- the result ----

function setObjectUrl(img, b) {
  if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
  const url = URL.createObjectURL(b);
  img.dataset.url = url;
  img.src = url;
  return url;
}

async function showResult(job, inputBlob, record) {
  const id = job.id;
  const after = await blob(`/v1/edits/${id}/image`);
  state.result = { id, blob: after };
  if (inputBlob) setObjectUrl($("before-img"), inputBlob);
  else $("before-img").removeAttribute("src");
  $("compare").classList.toggle("solo", !inputBlob);
  const url = setObjectUrl($("after-img"), after);
  $("download").href = url;
  $("download").download = `physedit-${id}.png`;
  $("result").hidden = false;
  setCompare(Number($("compare-slider").value));
  await showSrm(id);
  await showFrames(id);
  showRan(job);
  if (record) {
    history.add({
      id,
      prompt: job.prompt,
      recipe: job.recipe,
      created: job.created,
      thumb: await history.thumbnail(after),
    });
    renderHistory();
  }
  $("result-title").scrollIntoView({ block: "start" });
}

function setCompare(v) {
  $("compare").style.setProperty("--split", `${v}%`);
  $("compare-slider").setAttribute("aria-valuetext", `${v}% after`);
}

$("compare-slider").addEventListener("input", (e) => setCompare(Number(e.target.value)));

async function showSrm(id) {
  const img = $("srm-img");
  const btn = $("srm-toggle");
  img.hidden = true;
  btn.setAttribute("aria-pressed", "false");
  btn.textContent = "Show SRM mask";
  try {
    setObjectUrl(img, await blob(`/v1/edits/${id}/srm-mask`));
    btn.disabled = false;
    $("srm-note").textContent = "The SRM mask: reasoning was confined to the bright region.";
  } catch (e) {
    btn.disabled = true;
    $("srm-note").textContent = e.message;
  }
}

$("srm-toggle").addEventListener("click", () => {
  const on = $("srm-toggle").getAttribute("aria-pressed") !== "true";
  $("srm-toggle").setAttribute("aria-pressed", String(on));
  $("srm-toggle").textContent = on ? "Hide SRM mask" : "Show SRM mask";
  $("srm-img").hidden = !on;
});

async function showFrames(id) {
  for (const u of state.frames) URL.revokeObjectURL(u);
  const list = await call(`/v1/edits/${id}/frames`);
  const blobs = await Promise.all(list.data.map((f) => blob(`/v1/edits/${id}/frames/${f.index}`)));
  state.frames = blobs.map((b) => URL.createObjectURL(b));
  const s = $("frame-slider");
  s.max = String(Math.max(0, state.frames.length - 1));
  showFrame(0);
}

function showFrame(k) {
  const n = state.frames.length;
  if (!n) {
    $("frame-caption").textContent = "This edit kept no frames.";
    return;
  }
  k = Math.min(Math.max(k, 0), n - 1);
  $("frame-img").src = state.frames[k];
  $("frame-slider").value = String(k);
  const what = k === 0 ? " (the input, as decoded)" : k === n - 1 ? " (the edited picture)" : " (reasoning)";
  $("frame-caption").textContent = `Frame ${k + 1} of ${n}${what}`;
  $("frame-slider").setAttribute("aria-valuetext", `Frame ${k + 1} of ${n}`);
  $("frame-prev").disabled = k === 0;
  $("frame-next").disabled = k === n - 1;
}

$("frame-slider").addEventListener("input", (e) => showFrame(Number(e.target.value)));
$("frame-prev").addEventListener("click", () => showFrame(Number($("frame-slider").value) - 1));
$("frame-next").addEventListener("click", () => showFrame(Number($("frame-slider").value) + 1));

function fact(dl, term, value) {
  const div = document.createElement("div");
  const dt = document.createElement("dt");
  const dd = document.createElement("dd");
  dt.textContent = term;
  dd.textContent = value;
  div.append(dt, dd);
  dl.append(div);
}

function showRan(job) {
  const dl = $("ran");
  dl.replaceChildren();
  const pic = job.result?.pictures?.[0];
  if (!pic) return;
  const p = pic.plan;
  fact(dl, "Recipe", job.recipe);
  fact(dl, "Plan", `${p.tier} tier, ${p.category}: ${p.reasoning_frames} reasoning frames, ${pic.request?.reasoning_steps ?? p.reasoning_steps} reasoning steps of ${pic.request?.steps ?? p.steps}, SRM ${p.srm ? "on" : "off"}`);
  fact(dl, "Working size", `${pic.width}×${pic.height}`);
  fact(dl, "Seed", String(pic.seed));
  const t = pic.times;
  fact(dl, "Times", `encode ${secs(t.encode_s)}, denoise ${secs(t.denoise_s)}, decode ${secs(t.decode_s)}; edit ${secs(t.edit_s)}`);
  if (job.started && job.created) fact(dl, "Queued for", secs(Math.max(0, job.started - job.created)));
  fact(dl, "Transformer FLOPs", pflop(job.result.transformer_flops));
  if (pic.srm) fact(dl, "SRM", `kept ${(pic.srm.coverage * 100).toFixed(0)}% of each reasoning frame`);
}

$("again").addEventListener("click", () => {
  if (!state.result) return;
  setPicture(new File([state.result.blob], `edit-${state.result.id}.png`, { type: "image/png" }));
  $("prompt").focus();
  $("prompt").select();
});

// ---- history ----

function renderHistory() {
  const ol = $("history");
  ol.replaceChildren(
    ...history.load().map((e) => {
      const li = document.createElement("li");
      const img = document.createElement("img");
      img.src = e.thumb;
      img.alt = "";
      img.width = 48;
      img.height = 48;
      const text = document.createElement("span");
      text.textContent = `${e.prompt} — ${e.recipe}`;
      const open = document.createElement("button");
      open.type = "button";
      open.textContent = "Open";
      open.setAttribute("aria-label", `Open the edit “${e.prompt}”`);
      const err = document.createElement("span");
      err.className = "error";
      err.setAttribute("role", "alert");
      open.addEventListener("click", async () => {
        err.textContent = "";
        try {
          const job = await call(`/v1/edits/${e.id}`);
          await showResult(job, null, false);
        } catch (ex) {
          err.textContent = ex.message;
        }
      });
      li.append(img, text, open, err);
      return li;
    }),
  );
}

$("history-clear").addEventListener("click", () => {
  history.clear();
  renderHistory();
});

renderHistory();
connect();
