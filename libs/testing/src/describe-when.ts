/**
 * `describe` when nothing the suite needs is missing (`why` is null); otherwise `describe.skip` with the reason in
 * the suite's name and one warning, so a run without a service says what it did not test instead of passing quietly.
 */
export function describeUnlessMissing(name: string, why: string | null, fn: () => void): void {
  if (why === null) return describe(name, fn);
  console.warn(`SKIPPED "${name}": ${why}`);
  describe.skip(`${name} [SKIPPED: ${why}]`, fn);
}
