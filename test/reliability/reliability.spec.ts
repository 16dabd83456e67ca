/** `npm run test:reliability` (long by default; RELIABILITY_MODE=short for the CI-sized run). */
import { reliabilitySuite } from "./suite.ts";
import { modeFromEnv } from "./support/report.ts";

reliabilitySuite(modeFromEnv("long"));
