/** Time comes through this port so domain code and tests control it. */
export abstract class Clock {
  abstract now(): number;
}

export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }
}

/** A clock for tests: starts at a fixed instant and moves only when told. */
export class FakeClock extends Clock {
  constructor(private t = Date.UTC(2026, 10, 25, 3, 0, 0)) {
    super();
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(t: number): void {
    this.t = t;
  }
}

/** Real time shifted by an offset the test can change (time keeps flowing, unlike FakeClock). */
export class ShiftedClock extends Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
}
