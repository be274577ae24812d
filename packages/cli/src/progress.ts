/**
 * What the CLI prints while it uploads: a progress bar redrawn in place on a terminal (nothing when piped), and one
 * permanent line per file with its outcome.
 */
export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function progressBar(label: string, sent: number, total: number, width = 24): string {
  const fraction = total === 0 ? 1 : Math.min(1, sent / total);
  const filled = Math.round(fraction * width);
  const percent = String(Math.round(fraction * 100)).padStart(3);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${percent}% ${label} ${formatBytes(sent)}/${formatBytes(total)}`;
}

export class ProgressLine {
  private drawn = false;

  constructor(private readonly output: ProgressOutput) {}

  update(label: string, sent: number, total: number): void {
    if (!this.output.isTTY) return;
    const line = progressBar(label, sent, total).slice(0, Math.max(20, (this.output.columns ?? 80) - 1));
    this.output.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  /** Replaces the bar (if any) with a permanent line. */
  finish(line: string): void {
    this.output.write(`${this.drawn ? "\r\x1b[2K" : ""}${line}\n`);
    this.drawn = false;
  }
}
