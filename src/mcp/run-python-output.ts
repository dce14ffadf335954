import { z } from "zod";
import { MAX_RESULT_REPR_CHARS } from "../../adapters/python/protocol-facts.js";
import { RESULT_KINDS } from "../../domain/execution-result.js";
import { executeSuccessSchema } from "../../openapi/schemas.js";

/**
 * run_python's structuredContent on success: the fields of a successful execution, the result
 * with its kind, without the figures (they come as image content, with a note of any left out).
 */
export const runPythonOutputSchema = executeSuccessSchema.omit({ figures: true, figuresTruncated: true }).extend({
  result: z.unknown().meta({
    description:
      "main()'s return value, or a cell's: the value of its last line when that is an expression (null when the cell ends in a statement " +
      `or in ";"). JSON when the value is JSON; else, with resultKind "repr", its repr() as a string, cut at ${MAX_RESULT_REPR_CHARS} characters`,
  }),
  resultKind: z.enum(RESULT_KINDS).meta({ description: "json: result is the value itself; repr: result is the text of repr(value), which is not JSON" }),
});
