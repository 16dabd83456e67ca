/**
 * @intentql/cli's public entry: run an `intentql` command in-process, as the bin does
 * (`await main(["predict", "--bundle", …])` resolves with the exit code; output goes to stdout/stderr).
 */
export { main } from "./main.ts";
