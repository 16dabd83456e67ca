/** Reading the Worker's string settings (wrangler `[vars]`) into numbers, with defaults. */

/** A positive finite number, or the fallback when the value is absent, empty or not one. */
export function positiveNumber(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
}
