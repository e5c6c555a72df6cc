// The mask: painted over the picture (or uploaded), sent as the API takes it — a PNG the size of
// the picture whose transparent pixels mark where the edit may change it.

const PAINT = "rgba(255, 64, 160, 0.55)";

export class MaskPainter {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.brush = 12;
    this.drawing = false;
    this.enabled = false;
    this.painted = false;
    this.uploaded = null;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const t of ["pointerup", "pointercancel", "pointerleave"]) {
      canvas.addEventListener(t, () => (this.drawing = false));
    }
  }

  /** A new picture: the canvas takes its size and is cleared. */
  reset(width, height) {
    this.canvas.width = width;
    this.canvas.height = height;
    this.clear();
  }

  clear() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.painted = false;
    this.uploaded = null;
  }

  setEnabled(on) {
    this.enabled = on;
    this.canvas.classList.toggle("painting", on);
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [
      ((e.clientX - r.left) / r.width) * this.canvas.width,
      ((e.clientY - r.top) / r.height) * this.canvas.height,
    ];
  }

  /** Brush radius in picture pixels (the slider is in screen pixels). */
  radius() {
    const r = this.canvas.getBoundingClientRect();
    return (this.brush * this.canvas.width) / Math.max(1, r.width);
  }

  dot(x, y) {
    this.ctx.fillStyle = PAINT;
    this.ctx.beginPath();
    this.ctx.arc(x, y, this.radius(), 0, Math.PI * 2);
    this.ctx.fill();
    this.painted = true;
    this.uploaded = null;
  }

  down(e) {
    if (!this.enabled) return;
    this.drawing = true;
    this.canvas.setPointerCapture(e.pointerId);
    this.dot(...this.point(e));
  }

  move(e) {
    if (this.enabled && this.drawing) this.dot(...this.point(e));
  }

  /** Marks the middle third of the picture (the keyboard's way to make a mask). */
  centre() {
    const { width: w, height: h } = this.canvas;
    this.ctx.fillStyle = PAINT;
    this.ctx.fillRect(w / 3, h / 3, w / 3, h / 3);
    this.painted = true;
    this.uploaded = null;
  }

  /** An uploaded mask file, sent as it is (the server checks it). */
  useFile(file) {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.painted = false;
    this.uploaded = file;
  }

  /** The mask to send, or null when there is none. */
  async toBlob() {
    if (this.uploaded) return this.uploaded;
    if (!this.painted) return null;
    const { width: w, height: h } = this.canvas;
    const painted = this.ctx.getImageData(0, 0, w, h).data;
    const out = new ImageData(w, h);
    for (let i = 0; i < w * h; i++) {
      out.data[i * 4 + 3] = painted[i * 4 + 3] > 0 ? 0 : 255;
    }
    const c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    c.getContext("2d").putImageData(out, 0, 0);
    return new Promise((ok) => c.toBlob(ok, "image/png"));
  }
}
