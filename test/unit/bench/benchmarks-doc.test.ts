import { describe, expect, it } from "vitest";
import { describeMachine, replaceSection } from "../../../bench/benchmarks-doc.ts";

const DOC =
  "# Benchmarks\n\n## Edge tokenizer\n\nold tokenizer\n\n## Edge\n\nold edge\n\n## Edge: before and after\n\nkept\n\n";

describe("docs/BENCHMARKS.md section updates", () => {
  it("replace only the named section, keeping the rest byte for byte (the trailing blank line too)", () => {
    expect(replaceSection(DOC, "## Edge", "## Edge\n\nnew edge\n")).toBe(
      "# Benchmarks\n\n## Edge tokenizer\n\nold tokenizer\n\n## Edge\n\nnew edge\n\n## Edge: before and after\n\nkept\n\n",
    );
    expect(replaceSection(DOC, "## Edge tokenizer", "## Edge tokenizer\n\nnew")).toBe(
      "# Benchmarks\n\n## Edge tokenizer\n\nnew\n\n## Edge\n\nold edge\n\n## Edge: before and after\n\nkept\n\n",
    );
  });

  it("replace a last section up to the end, and append a missing one, ending with a newline", () => {
    expect(replaceSection("# B\n\n## Edge\n\nold", "## Edge", "## Edge\n\nnew")).toBe(
      "# B\n\n## Edge\n\nnew\n",
    );
    expect(replaceSection("# B\n\n## gpu-service\n\nx\n", "## Edge", "## Edge\n\nnew")).toBe(
      "# B\n\n## gpu-service\n\nx\n\n## Edge\n\nnew\n",
    );
  });

  it("describe the machine from what Node reports, not a fixed label", () => {
    const cpu = {
      model: " Intel(R) Xeon(R) Processor ",
      speed: 0,
      times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 },
    };
    expect(describeMachine([cpu, cpu])).toBe("2 logical CPUs (Intel(R) Xeon(R) Processor)");
    expect(describeMachine([cpu])).toBe("1 logical CPU (Intel(R) Xeon(R) Processor)");
    expect(describeMachine([])).toBe("0 logical CPUs (unknown CPU)");
  });
});
