/** How the dashboard writes numbers and errors. */

/** A fraction as a percentage with two decimals: 0.9123 → "91.23%". */
export const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

/** A difference of fractions in points, signed: 0.0123 → "+1.23". */
export const signedPoints = (x: number): string => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(2)}`;

/** The message of anything thrown. */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
