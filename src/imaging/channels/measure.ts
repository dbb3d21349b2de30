/**
 * Pixel measurements on raw 8-bit sRGB(A) buffers: the edge ring, the product's bounding box against a
 * white background, and a uniform frame (border). Pure functions over the decoded pixels, so the check
 * never decodes the image again.
 */

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/** A pixel whose darkest channel is at least this is background ("near white"). */
export const NEAR_WHITE = 240;
/** The share of edge pixels that must be near white for the background to count as white. */
const WHITE_BACKGROUND_SHARE = 0.75;

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

function darkest(img: RawImage, i: number): number {
  const { data } = img;
  const r = data[i]!;
  const g = data[i + 1]!;
  const b = data[i + 2]!;
  return r < g ? (r < b ? r : b) : g < b ? g : b;
}

/** Visits each pixel of the 1-px edge ring once. */
function forEachEdge(img: RawImage, fn: (offset: number) => void): void {
  const { width: w, height: h, channels: c } = img;
  for (let x = 0; x < w; x++) {
    fn(x * c);
    if (h > 1) fn(((h - 1) * w + x) * c);
  }
  for (let y = 1; y < h - 1; y++) {
    fn(y * w * c);
    if (w > 1) fn((y * w + w - 1) * c);
  }
}

export interface EdgeFigures {
  /** Lowest channel value over the edge ring. */
  min: number;
  /** Mean channel value over the edge ring. */
  mean: number;
  /** Share of edge pixels that are near white. */
  nearWhiteShare: number;
}

export function edgeFigures(img: RawImage): EdgeFigures {
  let min = 255;
  let sum = 0;
  let n = 0;
  let white = 0;
  const { data } = img;
  forEachEdge(img, (i) => {
    const d = darkest(img, i);
    if (d < min) min = d;
    if (d >= NEAR_WHITE) white++;
    sum += data[i]! + data[i + 1]! + data[i + 2]!;
    n++;
  });
  return { min, mean: n === 0 ? 0 : sum / (3 * n), nearWhiteShare: n === 0 ? 0 : white / n };
}

export function hasWhiteBackground(edges: EdgeFigures): boolean {
  return edges.nearWhiteShare >= WHITE_BACKGROUND_SHARE;
}

/** The bounding box of the pixels that are not near white; undefined for an all-white image. */
export function productBox(img: RawImage): Box | undefined {
  const { width: w, height: h, channels: c } = img;
  let top = -1;
  let bottom = -1;
  let left = w;
  let right = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w * c;
    let first = -1;
    for (let x = 0; x < w; x++) {
      if (darkest(img, row + x * c) < NEAR_WHITE) {
        first = x;
        break;
      }
    }
    if (first < 0) continue;
    if (top < 0) top = y;
    bottom = y;
    if (first < left) left = first;
    for (let x = w - 1; x > right; x--) {
      if (darkest(img, row + x * c) < NEAR_WHITE) {
        right = x;
        break;
      }
    }
  }
  if (top < 0) return undefined;
  return { left, top, width: right - left + 1, height: bottom - top + 1 };
}

/** The product's extent along the axis where it covers most of the frame, 0-1. */
export function fillRatio(box: Box | undefined, width: number, height: number): number {
  if (!box) return 0;
  return Math.max(box.width / width, box.height / height);
}

const UNIFORM_TOLERANCE = 10;

function near(img: RawImage, i: number, colour: readonly [number, number, number]): boolean {
  const { data } = img;
  return (
    Math.abs(data[i]! - colour[0]) <= UNIFORM_TOLERANCE &&
    Math.abs(data[i + 1]! - colour[1]) <= UNIFORM_TOLERANCE &&
    Math.abs(data[i + 2]! - colour[2]) <= UNIFORM_TOLERANCE
  );
}

/**
 * A frame: on all four sides, a thin run of lines (1 px to 4 % of the side) entirely of the corner's
 * colour, and the picture's four corners just inside the runs differ from that colour. A product on a
 * plain background has wide margins or background at those corners, so it is not taken for a frame.
 */
export function hasBorder(img: RawImage): boolean {
  const { width: w, height: h, channels: c } = img;
  if (w < 8 || h < 8) return false;
  const colour: [number, number, number] = [img.data[0]!, img.data[1]!, img.data[2]!];
  const px = (x: number, y: number) => (y * w + x) * c;
  const rowUniform = (y: number) => {
    for (let x = 0; x < w; x++) if (!near(img, px(x, y), colour)) return false;
    return true;
  };
  const colUniform = (x: number) => {
    for (let y = 0; y < h; y++) if (!near(img, px(x, y), colour)) return false;
    return true;
  };
  const run = (count: number, uniform: (k: number) => boolean) => {
    const limit = Math.max(1, Math.floor(count * 0.04));
    let k = 0;
    while (k <= limit && uniform(k)) k++;
    return k >= 1 && k <= limit ? k : 0;
  };
  const top = run(h, rowUniform);
  const bottom = top && run(h, (k) => rowUniform(h - 1 - k));
  const left = bottom && run(w, colUniform);
  const right = left && run(w, (k) => colUniform(w - 1 - k));
  if (!right) return false;
  const corners = [px(left, top), px(w - 1 - right, top), px(left, h - 1 - bottom), px(w - 1 - right, h - 1 - bottom)];
  return corners.every((i) => !near(img, i, colour));
}
