/** The reliability suite in short mode, part of `npm test` (the long run: `npm run test:reliability`). */
import { reliabilitySuite } from "./suite.ts";

reliabilitySuite("short");
