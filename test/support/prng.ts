/** mulberry32, the seeded PRNG of `intentql train`, so generated inputs (benchmarks, fuzzers, tests) reproduce. */
export { mulberry32 } from "../../cli/src/train/random.ts";
