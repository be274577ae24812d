/** A seeded source of the simulation's randomness: the same seed gives the same night, draw for draw. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Waiting time of a Poisson process of `rate` per second. */
  exponential(rate: number): number;
  /** Lognormal around `median`, with ln-space standard deviation `sigma`. */
  lognormal(median: number, sigma: number): number;
  chance(probability: number): boolean;
}

/** splitmix32: spreads a small seed over the generator's state. */
function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** sfc32 (Chris Doty-Humphrey's small fast counter), seeded through splitmix32. */
export function seededRandom(seed: number): Random {
  const init = splitmix32(seed);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  // Discard the first draws: the state is still close to the seed's.
  for (let i = 0; i < 12; i += 1) next();
  let spare: number | undefined;
  const gaussian = (): number => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - next()));
    const angle = 2 * Math.PI * next();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
  return {
    next,
    exponential: (rate) => -Math.log(1 - next()) / rate,
    lognormal: (median, sigma) => median * Math.exp(sigma * gaussian()),
    chance: (probability) => next() < probability,
  };
}
