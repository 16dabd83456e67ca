/** The IntentQL GraphQL schema: importing each type module registers it on the builder. */
import { builder } from "./builder.ts";
import "./intent.ts";
import "./classification.ts";
import "./model.ts";
import "./eval-run.ts";

export type * from "./builder.ts";
export { ErrorCode } from "./errors.ts";

export const schema = builder.toSchema({ sortSchema: false });
