/**
 * `--split`, as predict, eval and dataset import read it. MASSIVE's official layout puts every
 * partition in one file (rows with a "partition" field); `--split` keeps one of them, with the same
 * rule everywhere (`parseDatasetJsonl` of @intentql/schema, which the API's import uses too). Rows without a partition field are always kept: such a file is scored whole.
 */
import { normaliseSplit } from "@intentql/schema";

/** What predict and eval score by default: MASSIVE's test partition (every row of other files). */
export const DEFAULT_SPLIT = "test";
/** `--split all`: no partition filter. */
export const ALL_SPLITS = "all";

/** The partition filter for parseDatasetJsonl and importDataset: undefined for `all`; "validation" is "dev". */
export function splitFilter(value: string): string | undefined {
  return value === ALL_SPLITS ? undefined : normaliseSplit(value);
}
