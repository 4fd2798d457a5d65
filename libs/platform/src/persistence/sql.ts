/**
 * `($1::uuid, $2), ($3::uuid, $4)…`: the placeholders of a multi-row VALUES list, `rows` rows of one parameter per
 * cast (an empty cast leaves the type to PostgreSQL). Parameters go in row order.
 */
export function valuesList(rows: number, casts: readonly string[]): string {
  return Array.from({ length: rows }, (_, r) => `(${casts.map((c, i) => `$${r * casts.length + i + 1}${c}`).join(', ')})`).join(', ');
}
