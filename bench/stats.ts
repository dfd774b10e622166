/** Small helpers for the benchmark scripts: they print figures, they assert nothing. */
import { readFileSync } from 'node:fs';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

export function verdict(ratio: number, target: number): string {
  return ratio <= target ? `meets the target (<= ${target}x)` : `MISSES the target (<= ${target}x)`;
}

/** Peak resident set of a live process, in MB (Linux's VmHWM). */
export function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error('no VmHWM in /proc (Linux only)');
  return Number(match[1]) / 1024;
}
