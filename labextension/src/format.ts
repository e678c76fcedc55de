/** Text formats shared with the Python presentation layer (aml_magic/frontends/render.py). */
import { formatNumber } from './chart';

/** `14ms`, `3.27s`, `59.9s`, `4m05s`, `1h02m03s`, `2d03h04m`; `-` when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return '-';
  }
  seconds = Math.max(0, seconds);
  if (seconds < 0.9995) {
    return `${(seconds * 1000).toFixed(0)}ms`;
  }
  if (seconds < 9.995) {
    return `${seconds.toFixed(2)}s`;
  }
  if (seconds < 59.95) {
    return `${seconds.toFixed(1)}s`;
  }
  const total = Math.round(seconds);
  const secs = total % 60;
  let minutes = Math.floor(total / 60);
  let hours = Math.floor(minutes / 60);
  minutes %= 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (hours < 24) {
    return hours ? `${hours}h${pad(minutes)}m${pad(secs)}s` : `${minutes}m${pad(secs)}s`;
  }
  const days = Math.floor(hours / 24);
  hours %= 24;
  return `${days}d${pad(hours)}h${pad(minutes)}m`;
}

export function formatValue(value: unknown): string {
  if (typeof value === 'number') {
    return formatNumber(value);
  }
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value);
}

export function formatBytes(size: number): string {
  if (size < 1024) {
    return `${size} B`;
  }
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = size;
  let unit = 'B';
  for (const next of units) {
    if (value < 1024) {
      break;
    }
    value /= 1024;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/** A run's duration: as recorded once ended, else counted from its start. */
export function runDuration(run: {
  duration: number | null;
  started_at: number | null;
  ended_at: number | null;
}): number | null {
  if (run.duration !== null && run.duration !== undefined) {
    return run.duration;
  }
  if (run.started_at && !run.ended_at) {
    return Date.now() / 1000 - run.started_at;
  }
  return null;
}
