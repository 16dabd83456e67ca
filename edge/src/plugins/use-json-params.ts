/**
 * `variables` and `extensions` in a URL query or a form body must be JSON: yoga's parser for those
 * two request shapes calls JSON.parse unguarded, so `GET /graphql?query={__typename}&variables={`
 * was a 500 "Unexpected error" and a logged stack (session 14's attack pass), while the same
 * mistake in a JSON body is a 400. This answers both shapes like the JSON body: 400 BAD_REQUEST
 * that names the parameter problem.
 */
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { ErrorCode } from "../graphql/errors.ts";

export function useJsonParams(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          if (!(error instanceof SyntaxError)) throw error;
          throw new GraphQLError(
            `request parameters "variables" and "extensions" must be JSON: ${error.message}`,
            {
              extensions: { code: ErrorCode.BAD_REQUEST, http: { status: 400 } },
            },
          );
        }
      });
    },
  };
}
