/** What the simulation records while it runs: levels over time, samples, and counts per time bin. */

function grown<T extends Float32Array | Float64Array>(array: T, needed: number, make: (length: number) => T): T {
  if (needed <= array.length) return array;
  const larger = make(Math.max(needed, array.length * 2));
  larger.set(array);
  return larger;
}

/** A quantity that steps up and down over time (instances running, connections open): its peak and time-weighted percentiles. */
export class Level {
  private value = 0;
  private since = 0;
  private timeAt = new Float64Array(64);
  peak = 0;

  /** Changes the level at `now` (seconds; never earlier than the previous change). */
  change(now: number, delta: number): void {
    this.timeAt = grown(this.timeAt, this.value + 1, (n) => new Float64Array(n));
    this.timeAt[this.value] = (this.timeAt[this.value] ?? 0) + (now - this.since);
    this.since = now;
    this.value += delta;
    if (this.value < 0) throw new RangeError("a level fell below zero");
    if (this.value > this.peak) this.peak = this.value;
  }

  get current(): number {
    return this.value;
  }

  /** The level it stayed at or below for `fraction` of the time until `end`. */
  percentile(fraction: number, end: number): number {
    const times = new Float64Array(Math.max(this.timeAt.length, this.value + 1));
    times.set(this.timeAt);
    times[this.value] = (times[this.value] ?? 0) + Math.max(0, end - this.since);
    const total = times.reduce((sum, t) => sum + t, 0);
    let seen = 0;
    for (let level = 0; level < times.length; level += 1) {
      seen += times[level] ?? 0;
      if (seen >= fraction * total) return level;
    }
    return this.peak;
  }

  /** The time-weighted mean until `end`. */
  mean(end: number): number {
    let weighted = 0;
    this.timeAt.forEach((time, level) => (weighted += time * level));
    weighted += Math.max(0, end - this.since) * this.value;
    return end > 0 ? weighted / end : 0;
  }
}

/** Every sample of a figure (seconds), for exact percentiles. */
export class Samples {
  private values = new Float32Array(1024);
  count = 0;

  add(value: number): void {
    this.values = grown(this.values, this.count + 1, (n) => new Float32Array(n));
    this.values[this.count] = value;
    this.count += 1;
  }

  summary(): { p50: number; p99: number; max: number } {
    const sorted = this.values.slice(0, this.count).sort();
    const at = (fraction: number) => sorted[Math.min(this.count - 1, Math.ceil(fraction * this.count) - 1)] ?? 0;
    return { p50: at(0.5), p99: at(0.99), max: at(1) };
  }
}

/** Amounts summed per time bin (requests per second, database CPU per minute). */
export class Bins {
  private sums = new Float64Array(1024);

  constructor(readonly widthS: number) {}

  add(time: number, amount: number): void {
    const bin = Math.floor(time / this.widthS);
    this.sums = grown(this.sums, bin + 1, (n) => new Float64Array(n));
    this.sums[bin] = (this.sums[bin] ?? 0) + amount;
  }

  /** The largest bin's sum. */
  peak(): number {
    return this.sums.reduce((max, sum) => Math.max(max, sum), 0);
  }
}
