// The download progress bar on stderr (-o/-O, stderr a terminal, not -s): percentage, a bar of '#',
// bytes so far of the total, speed and time left; without a known total (no Content-Length, or a
// compressed body being decoded) the bytes and speed only. cli-progress draws it: it redraws in place
// at most 10 times a second, clips the line to the terminal's width, and writes nothing to a stream
// that is not a terminal.
import { SingleBar } from 'cli-progress';
import type { Options, Params } from 'cli-progress';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Bytes in curl's short form: 512 B, 1.5 KiB, 23.4 MiB. */
export function humanBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

const BAR_WIDTH = 30;

/** One line of the bar; `total` 0 means unknown. */
export function progressLine(value: number, total: number, elapsedMs: number): string {
  const speed = elapsedMs > 0 ? (value * 1000) / elapsedMs : 0;
  const rate = `${humanBytes(Math.round(speed))}/s`;
  if (total <= 0) return `${humanBytes(value)}  ${rate}  ${clock(elapsedMs / 1000)}`;
  const fraction = Math.min(1, value / total);
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
  const left = speed > 0 ? (total - value) / speed : Infinity;
  const pct = `${(fraction * 100).toFixed(1)}%`.padStart(6);
  return `${pct} [${bar}] ${humanBytes(value)} / ${humanBytes(total)}  ${rate}  ETA ${clock(left)}`;
}

export interface Progress {
  update(bytes: number): void;
  stop(): void;
}

/** A bar on `stream` when it is a terminal; otherwise one that does nothing. */
export function startProgress(stream: NodeJS.WriteStream, total: number): Progress {
  if (!stream.isTTY) return { update() {}, stop() {} };
  const format = (_options: Options, params: Params): string =>
    progressLine(params.value, total, (params.stopTime ?? Date.now()) - params.startTime);
  const bar = new SingleBar({ stream, format, hideCursor: false, linewrap: false, fps: 10 });
  bar.start(Math.max(total, 1), 0);
  return {
    update: (bytes) => bar.update(bytes),
    stop: () => bar.stop(),
  };
}
