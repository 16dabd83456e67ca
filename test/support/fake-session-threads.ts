/**
 * SessionPool options for fake session threads (crashing-session-thread.ts, which dies or dawdles on
 * cue): no model file is opened, provider CPU, zero logits of 60 labels. Add `size` and `log`.
 */
export const fakeSessionThreads = {
  models: {
    cpu: { path: "unused.onnx", variant: "fp32" as const },
    cuda: { path: "unused.onnx", variant: "fp32" as const },
  },
  device: "cpu" as const,
  intraOpThreads: 1,
  where: "fake",
  outputName: "logits",
  // The fake thread warms nothing up.
  warmUp: {
    maxBatchSize: 1,
    maxBatchTokens: 128,
    maxSeqLength: 128,
    clsId: 101n,
    shapeBuckets: "off" as const,
  },
  threadEntry: {
    url: new URL("./crashing-session-thread.ts", import.meta.url),
    execArgv: ["--import", "tsx"],
  },
};
