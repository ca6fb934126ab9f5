import { type OutputUnit, type Schema, Validator } from "@cfworker/json-schema";
import { ApiError } from "../../lib/errors";

/** The only dialect the catalog takes (a schema may say so in `$schema`, or say nothing). */
const DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema";

/** A schema's own size cap, as JSON: it is read on publish while the type validates. */
export const MAX_SCHEMA_BYTES = 32 * 1024;

export type EntitySchema = Record<string, unknown> | boolean;

/** Where in the entity, and what is wrong: the shape `validation_failed` details have. */
export interface SchemaIssue {
  path: string;
  message: string;
}

/** `#/customer/0/id` → `entity.customer.0.id` (a JSON pointer's tokens, unescaped). */
function pathOf(prefix: string, pointer: string) {
  const tokens = pointer
    .replace(/^#\/?/, "")
    .split("/")
    .filter((t) => t !== "")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  return [prefix, ...tokens].join(".");
}

/**
 * The errors worth naming: the deepest ones. A wrapper (`properties`, `allOf`, …) whose keyword
 * location leads to another error only says "something below failed"; `additionalProperties: false`
 * is reported at the property it refused.
 */
function leaves(errors: OutputUnit[], prefix: string): SchemaIssue[] {
  const refused = errors.some((e) => e.keyword === "false");
  return errors
    .filter((e) => !errors.some((o) => o !== e && o.keywordLocation.startsWith(`${e.keywordLocation}/`)))
    .filter((e) => !(refused && (e.keyword === "additionalProperties" || e.keyword === "unevaluatedProperties")))
    .slice(0, 10)
    .map((e) => ({
      path: pathOf(prefix, e.instanceLocation),
      message: e.keyword === "false" ? "is not allowed by the event type's schema" : e.error,
    }));
}

/** Every `pattern` (and `patternProperties` key) must be a regular expression the validator can run. */
function checkPatterns(node: unknown, path: string[]) {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) checkPatterns(n, [...path, String(i)]);
    return;
  }
  if (node === null || typeof node !== "object") return;
  for (const [key, value] of Object.entries(node)) {
    const at = [...path, key];
    const patterns = key === "pattern" && typeof value === "string" ? [value] : [];
    if (key === "patternProperties" && value && typeof value === "object") patterns.push(...Object.keys(value));
    for (const pattern of patterns) {
      try {
        new RegExp(pattern, "u");
      } catch {
        throw new ApiError("validation_failed", `Invalid request: ${at.join(".")}: not a valid regular expression`, [
          { path: at.join("."), message: `not a valid regular expression: ${pattern}` },
        ]);
      }
    }
    checkPatterns(value, at);
  }
}

/** A compiled schema: validates an entity, answering what is wrong (empty: valid). */
export interface EntityValidator {
  check(entity: unknown, prefix?: string): SchemaIssue[];
}

/**
 * Compiles a catalog schema (JSON Schema draft 2020-12, evaluated without code generation, which
 * Workers forbid). A schema that names another dialect, or that cannot be evaluated (a `$ref` to
 * nowhere, a bad `pattern`), is refused with 400 naming `schema`.
 */
export function compileSchema(schema: EntitySchema): EntityValidator {
  if (typeof schema === "object" && schema.$schema !== undefined && schema.$schema !== DRAFT_2020_12) {
    throw new ApiError("validation_failed", `Invalid request: schema: $schema must be ${DRAFT_2020_12}`, [
      { path: "schema.$schema", message: `must be ${DRAFT_2020_12} (draft 2020-12)` },
    ]);
  }
  checkPatterns(schema, ["schema"]);
  const validator = new Validator(schema as Schema | boolean, "2020-12", false);
  const check = (entity: unknown, prefix = "entity") => {
    try {
      const result = validator.validate(entity);
      return result.valid ? [] : leaves(result.errors, prefix);
    } catch (err) {
      const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
      throw new ApiError("validation_failed", `Invalid request: schema: it cannot be evaluated (${reason})`, [
        { path: "schema", message: `cannot be evaluated: ${reason}` },
      ]);
    }
  };
  // Evaluated once against an empty object, so a schema that cannot be evaluated is refused now.
  check({});
  return { check };
}

/** 400 `validation_failed` naming each failing path of the entity. */
export function schemaViolation(type: string, issues: SchemaIssue[]): ApiError {
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  return new ApiError("validation_failed", `The entity does not match the ${type} schema: ${summary}`, issues);
}
