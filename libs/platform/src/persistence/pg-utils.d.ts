/** node-postgres's own conversion of a JavaScript value into a parameter's text (used by PreparedPglite). */
declare module 'pg/lib/utils' {
  export function prepareValue(value: unknown): string | Buffer | null;
}
